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
