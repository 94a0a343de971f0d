"""The training table and the split, on tiny hand-made cubes whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from usecases.uc3_fire_danger import features, model


def tiny_cube(days: int = 6) -> xr.Dataset:
    times = pd.date_range("2024-06-01", periods=days)
    lat, lon = np.array([45.5, 45.4]), np.array([10.1, 10.2, 10.3])
    shape = (days, lat.size, lon.size)
    rain = np.arange(np.prod(shape), dtype="float32").reshape(shape)
    fire = (rain % 3 == 0).astype("float32")
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {
            "precipitation": (dims, rain),
            "air_temperature_2m": (dims, 290 + rain),
            "fire": (dims, fire),
            "land_cover": (("lat", "lon"), np.array([[1, 2, 3], [4, 5, 6]], "float32")),
        },
        coords={"time": times, "lat": lat, "lon": lon},
    ).chunk({"time": 2})


def test_table_rows_pair_the_drivers_of_a_day_with_the_next_days_fire():
    cube = tiny_cube()
    table = features.build_table(cube, window=3)
    assert table["time"].values[0] == cube["time"].values[2]  # incomplete windows dropped
    assert all(v.chunks is not None for v in table.data_vars.values())  # still lazy
    np.testing.assert_array_equal(table["target"].values[:-1], cube["fire"].values[3:])
    assert np.isnan(table["target"].values[-1]).all()  # the day to forecast
    rain = cube["precipitation"].values
    np.testing.assert_array_equal(table["precipitation_sum3d"].values[0], rain[0] + rain[1] + rain[2])
    np.testing.assert_array_equal(table["precipitation_lag2"].values[0], rain[0])
    np.testing.assert_array_equal(table["land_cover"].values[3], cube["land_cover"].values)


def test_frame_rows_keep_their_day_and_cell():
    table = features.build_table(tiny_cube(), window=3)
    frame = features.to_frame(table)
    assert len(frame) == 4 * 2 * 3
    row = frame[(frame["time"] == table["time"].values[1]) & (frame["lat"] == 45.4) & (frame["lon"] == 10.3)]
    assert row["precipitation"].item() == table["precipitation"].sel(lat=45.4, lon=10.3).values[1]


def test_time_split_keeps_later_days_for_testing_and_the_last_for_the_forecast():
    frame = features.to_frame(features.build_table(tiny_cube(days=10), window=3))
    split = model.time_split(frame, test_fraction=0.4)
    assert split.train["time"].max() < split.test["time"].min()
    assert split.train["time"].nunique() == 4 and split.test["time"].nunique() == 3
    assert split.forecast["time"].nunique() == 1
    assert split.forecast["time"].iloc[0] == frame["time"].max()


def test_a_cube_without_fire_or_too_short_is_refused_with_what_is_missing():
    with pytest.raises(KeyError, match="no 'fire' variable"):
        features.build_table(tiny_cube().drop_vars("fire"))
    with pytest.raises(ValueError, match="at least 5 days"):
        features.build_table(tiny_cube(days=4))


def random_cube(days: int = 14, cells: int = 160, rate: float = 0.05, seed: int = 7) -> xr.Dataset:
    """Fires drawn at `rate`, with one column of cells outside the fire product (NaN)."""
    rng = np.random.default_rng(seed)
    shape = (days, cells, cells)
    fire = (rng.random(shape) < rate).astype("float32")
    fire[:, :, 0] = np.nan
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {
            "precipitation": (dims, rng.gamma(0.5, 2.0, shape).astype("float32")),
            "air_temperature_2m": (dims, (290 + 5 * rng.standard_normal(shape)).astype("float32")),
            "fire": (dims, fire),
            "land_cover": (("lat", "lon"), rng.integers(1, 8, shape[1:]).astype("float32")),
        },
        coords={
            "time": pd.date_range("2024-06-01", periods=days),
            "lat": 46.0 - 0.01 * np.arange(cells),
            "lon": 10.0 + 0.01 * np.arange(cells),
        },
    )


@pytest.fixture(scope="module")
def sampled() -> tuple[pd.DataFrame, features.Sample, features.Sample, float]:
    """All rows, then the same sample (fraction 0.2, seed 3) under two unrelated chunkings."""
    cube = random_cube()
    fraction = 0.2
    table_a = features.build_table(cube.chunk({"time": 4, "lat": 64, "lon": 50}))
    table_b = features.build_table(cube.chunk({"time": 7, "lat": 160, "lon": 33}))
    full = features.to_frame(table_a)
    a = features.to_sampled_frame(table_a, fraction, seed=3)
    b = features.to_sampled_frame(table_b, fraction, seed=3)
    return full, a, b, fraction


def test_a_sample_keeps_every_fire_and_about_the_fraction_of_the_other_rows(sampled):
    full, sample, _, fraction = sampled
    known = full[full["target"].notna()]
    frame = sample.frame
    assert len(known) > 250_000 and sample.rows_total == len(known)
    assert frame["target"].notna().all()  # unknown targets (the last day, outside the product) dropped
    key = ["time", "lat", "lon"]
    fires = known[known["target"] == 1][key].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[frame["target"] == 1][key].reset_index(drop=True), fires)
    negatives = int((known["target"] == 0).sum())
    kept = int((frame["target"] == 0).sum())
    assert abs(kept - fraction * negatives) < 4 * np.sqrt(negatives * fraction * (1 - fraction))
    per_day = (
        frame[frame["target"] == 0].groupby("time").size()
        / known[known["target"] == 0].groupby("time").size()
    )
    day_cells = negatives / known["time"].nunique()
    assert (abs(per_day - fraction) < 5 * np.sqrt(fraction * (1 - fraction) / day_cells)).all(), per_day
    np.testing.assert_array_equal(frame["weight"], np.where(frame["target"] == 1, 1.0, 1 / fraction))


def test_kept_rows_carry_the_same_values_as_the_full_table_in_its_order(sampled):
    full, sample, _, _ = sampled
    rows = full.rename_axis("row").reset_index()
    merged = sample.frame.merge(rows, on=["time", "lat", "lon"], suffixes=("", "_all"), validate="1:1")
    assert len(merged) == len(sample.frame)
    for name in [c for c in full.columns if c not in ("time", "lat", "lon")]:
        np.testing.assert_array_equal(merged[name], merged[f"{name}_all"], err_msg=name)
    assert merged["row"].is_monotonic_increasing and merged["row"].is_unique


def test_the_same_seed_keeps_the_same_rows_whatever_the_chunking_and_another_seed_does_not(sampled):
    _, a, b, fraction = sampled
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.describe() == b.describe()
    table = features.build_table(random_cube().chunk({"time": 5}))
    other = features.to_sampled_frame(table, fraction, seed=4).frame
    negatives = ["time", "lat", "lon"]
    shared = a.frame[a.frame["target"] == 0].merge(other[other["target"] == 0][negatives], on=negatives)
    assert len(shared) < 0.3 * (a.frame["target"] == 0).sum()  # independent draws overlap by ~fraction


def test_the_weighted_fire_rate_of_a_sample_is_the_rate_of_all_rows(sampled):
    full, sample, _, fraction = sampled
    truth = float(full["target"].mean())  # pandas skips the unknown targets
    estimate = model.positive_rate(sample.frame)
    negatives = (full["target"] == 0).sum()
    spread = truth * np.sqrt((1 - fraction) / (fraction * negatives))  # from the binomial count kept
    assert abs(estimate - truth) < 4 * spread, (estimate, truth)
    assert abs(float(sample.frame["target"].mean()) - truth) > 0.05  # unweighted, the sample is biased


def test_the_sampling_fraction_brings_the_expected_rows_to_the_budget():
    table = features.build_table(random_cube(days=8, cells=40).chunk({"time": 3}))
    assert features.cell_days(table) == 6 * 40 * 40
    assert features.sampling_fraction(table, features.cell_days(table)) is None  # everything fits
    frame = features.to_frame(table)
    positives, known = int((frame["target"] == 1).sum()), int(frame["target"].notna().sum())
    fraction = features.sampling_fraction(table, 3000)
    assert positives + fraction * (known - positives) == pytest.approx(3000)
    assert features.sampling_fraction(table, known + 1) == 1.0  # over the cell-days, not over known rows
    with pytest.raises(ValueError, match=f"not above the table's {positives:,} fire rows.*UC3_MAX_ROWS"):
        features.sampling_fraction(table, positives)


@pytest.mark.parametrize("text", ["0", "-5", "1e6", "lots", ""])
def test_a_row_budget_that_is_not_a_positive_whole_number_is_refused_by_name(text):
    with pytest.raises(ValueError, match=f"^UC3_MAX_ROWS must be a whole number of rows >= 1, got {text!r}$"):
        features.parse_max_rows(text)
    assert features.parse_max_rows("250000") == 250_000


def test_a_sample_refuses_a_fraction_outside_zero_to_one():
    table = features.build_table(tiny_cube())
    for fraction in (0.0, 1.5):
        with pytest.raises(ValueError, match="negative_fraction must be in"):
            features.to_sampled_frame(table, fraction)
