"""The training table: one row per (day, cell), drivers known on the day and the target the next day.

Built lazily with xarray on the cube's dask arrays, so the same code runs on local threads or on the
platform's Dask cluster; only `to_frame`, `to_sampled_frame` and `sampling_fraction` compute. Only
built-in xarray/dask/numpy operations are used, so cluster workers need no code from this repository.

A table too large for one pandas frame (the full UC3 cube has 1.7 x 10^9 cell-days) is sampled on the
workers: every fire row, a fixed fraction of the others, chosen by a draw that depends only on
(seed, row), so the same seed keeps the same rows however the cube is chunked.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

TARGET = "fire"
DIMS = ("time", "lat", "lon")
# Daily drivers used as they are on the day (when present in the cube).
DAILY = (
    "air_temperature_2m",
    "precipitation",
    "surface_solar_radiation",
    "land_surface_temperature",
    "ndvi",
    "lai",
    "aerosol_optical_depth",
)
# Drivers whose recent past matters (dryness builds up; clouds hide vegetation on single days).
ROLLING = ("precipitation", "air_temperature_2m", "land_surface_temperature", "ndvi")
LAGS = ("precipitation",)
STATIC = ("elevation", "land_cover")
CATEGORICAL = ("land_cover",)


def build_table(cube: xr.Dataset, window: int = 3) -> xr.Dataset:
    """Features on each day t and `target` = fire on day t+1, all lazy, on (time, lat, lon).

    The first `window - 1` days (incomplete rolling windows) are dropped; the last day keeps a NaN
    target: it is the day whose next-day danger is forecast. Static layers are broadcast over time.
    """
    if TARGET not in cube:
        raise KeyError(f"the cube has no {TARGET!r} variable (expected daily fire occurrence 0/1)")
    if cube.sizes["time"] < window + 2:
        found = cube.sizes["time"]
        raise ValueError(f"need at least {window + 2} days for {window}-day windows, found {found}")
    out: dict[str, xr.DataArray] = {}
    for name in DAILY:
        if name in cube:
            out[name] = cube[name]
    for name in ROLLING:
        if name in cube:
            roll = cube[name].rolling(time=window, min_periods=1)
            out[f"{name}_sum{window}d" if name == "precipitation" else f"{name}_mean{window}d"] = (
                roll.sum() if name == "precipitation" else roll.mean()
            )
    for name in LAGS:
        if name in cube:
            for lag in range(1, window):
                out[f"{name}_lag{lag}"] = cube[name].shift(time=lag)
    out["fire_today"] = cube[TARGET]
    for name in STATIC:
        if name in cube:
            out[name] = cube[name].broadcast_like(cube[TARGET])
    out["target"] = cube[TARGET].shift(time=-1)
    table = xr.Dataset(out).transpose("time", "lat", "lon").isel(time=slice(window - 1, None))
    return table.drop_vars([c for c in table.coords if c not in ("time", "lat", "lon")])


def feature_names(table: xr.Dataset) -> list[str]:
    return [name for name in table.data_vars if name != "target"]


def to_frame(table: xr.Dataset) -> pd.DataFrame:
    """Compute the table (one dask.compute, on the default scheduler) into rows with a `time`
    column; cells outside every source's footprint keep NaN features (the model handles them)."""
    names = list(table.data_vars)
    arrays = dask.compute(*[table[n].astype("float32").data.reshape(-1) for n in names])
    frame = pd.DataFrame({n: np.asarray(a) for n, a in zip(names, arrays, strict=True)})
    shape = tuple(table.sizes[d] for d in ("time", "lat", "lon"))
    frame["time"] = np.repeat(table["time"].values, shape[1] * shape[2])
    frame["lat"] = np.tile(np.repeat(table["lat"].values, shape[2]), shape[0])
    frame["lon"] = np.tile(table["lon"].values, shape[0] * shape[1])
    return frame


def cell_days(table: xr.Dataset) -> int:
    """Rows `to_frame` would return (known from the shape, nothing is computed)."""
    return int(np.prod([table.sizes[d] for d in DIMS]))


def parse_max_rows(text: str) -> int:
    """The row budget from its environment variable: a whole number >= 1, else one line naming it."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"UC3_MAX_ROWS must be a whole number of rows >= 1, got {text!r}")
    return value


def sampling_fraction(table: xr.Dataset, max_rows: int) -> float | None:
    """The fraction of non-fire rows to keep so that the expected row count (every fire plus that
    fraction of the rest) is `max_rows`; None when every cell-day fits (then nothing is computed).

    Otherwise one pass over the target counts its fire rows and known rows on the workers. Fire rows
    are never dropped, so a budget they alone exceed is refused rather than silently overrun."""
    if cell_days(table) <= max_rows:
        return None
    target = table["target"].data
    positives, known = (int(n) for n in dask.compute((target > 0).sum(), (~da.isnan(target)).sum()))
    if positives >= max_rows:
        raise ValueError(
            f"max rows {max_rows:,} is not above the table's {positives:,} fire rows, which are all kept: "
            "raise UC3_MAX_ROWS or use a smaller region or period"
        )
    negatives = known - positives
    return min(1.0, (max_rows - positives) / negatives) if negatives else 1.0


@dataclass(frozen=True)
class Sample:
    """Rows kept by `to_sampled_frame`, with what is needed to state and undo the sampling."""

    frame: pd.DataFrame  # the kept rows in table order, with a `weight` column
    negative_fraction: float
    seed: int
    rows_total: int  # rows with a known target before sampling

    def describe(self) -> dict[str, object]:
        """How the rows were sampled, for metrics.json."""
        return {
            "sampled": True,
            "negative_fraction": self.negative_fraction,
            "seed": self.seed,
            "rows_total": self.rows_total,
            "rows_kept": len(self.frame),
            "positives_kept": int((self.frame["target"] > 0).sum()),
            "weights": f"1 for fire rows, 1/{self.negative_fraction:.6g} for the other kept rows",
        }


def to_sampled_frame(table: xr.Dataset, negative_fraction: float, seed: int = 0) -> Sample:
    """Every row whose target is fire, and about `negative_fraction` of the rows without fire, as
    `to_frame` would give them (in the same order) plus a `weight` column: 1 for fire rows,
    1/negative_fraction for the others, so weighted means, fits and scores stand for all rows.

    Rows whose target is NaN (the forecast day, cells outside the fire product) are dropped. Each row
    is kept or not on the worker that computes its block, by its target and a uniform draw that is a
    hash of (seed, row index in the table); only kept values and their row indices are transferred.
    """
    if not 0 < negative_fraction <= 1:
        raise ValueError(f"negative_fraction must be in (0, 1], got {negative_fraction}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    shape = tuple(table.sizes[d] for d in DIMS)
    chunks = table["target"].chunks or tuple((n,) for n in shape)
    # One block layout for every column, so that block k of each column holds the same rows.
    table = table.transpose(*DIMS).chunk(dict(zip(DIMS, chunks, strict=True)))
    names = list(table.data_vars)
    target = table["target"].data
    row = _row_index(shape, chunks)
    known = ~da.isnan(target)
    keep = known & ((target > 0) | (_uniform(row, seed) < negative_fraction))
    columns = [table[n].data.astype("float32") for n in names]
    # Blocks as delayed objects, unoptimised: the columns keep sharing their input blocks (the cube
    # is read once), where optimising each graph apart would inline some reads into several tasks.
    keep_blocks = keep.to_delayed(optimize_graph=False).ravel()
    pick = dask.delayed(operator.getitem)  # numpy block[mask] on the worker: the kept values, C order
    kept = [
        [
            pick(block, mask)
            for block, mask in zip(c.to_delayed(optimize_graph=False).ravel(), keep_blocks, strict=True)
        ]
        for c in (*columns, row)
    ]
    counts = [dask.delayed(np.count_nonzero)(k) for k in known.to_delayed(optimize_graph=False).ravel()]
    kept, counts = dask.compute(kept, counts)
    rows = np.concatenate(kept[-1])
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    frame = pd.DataFrame({n: np.concatenate(parts)[order] for n, parts in zip(names, kept[:-1], strict=True)})
    t, i, j = np.unravel_index(rows.astype("int64"), shape)
    frame["time"] = table["time"].values[t]
    frame["lat"] = table["lat"].values[i]
    frame["lon"] = table["lon"].values[j]
    frame["weight"] = np.where(frame["target"].to_numpy() > 0, 1.0, 1.0 / negative_fraction)
    return Sample(frame, float(negative_fraction), int(seed), int(sum(counts)))


_GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment (2^64 / golden ratio)
_MASK = 2**64 - 1


def _row_index(shape: tuple[int, ...], chunks: tuple[tuple[int, ...], ...]) -> da.Array:
    """The flat (C-order) index of each cell-day, blocked like `chunks`."""
    axes = [da.arange(n, chunks=(c,), dtype="uint64") for n, c in zip(shape, chunks, strict=True)]
    lat_lon = np.uint64(shape[1] * shape[2])
    return axes[0][:, None, None] * lat_lon + axes[1][None, :, None] * np.uint64(shape[2]) + axes[2]


def _splitmix(z: da.Array) -> da.Array:
    """splitmix64's output mix, on uint64 (numpy's array arithmetic wraps, as it needs)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(row: da.Array, seed: int) -> da.Array:
    """A uniform draw in [0, 1) per row: splitmix64 of the row's place in the seed's sequence (a
    counter-based generator, so each value depends on (seed, row) and on no other row)."""
    start = np.uint64((int(seed) * 0x2545F4914F6CDD1D + _GOLDEN) & _MASK)
    z = _splitmix(row * np.uint64(_GOLDEN) + start)
    return (z >> np.uint64(11)).astype("float64") * 2.0**-53
