"""The training table: one row per (day, cell), drivers known on the day and the target the next day.

Built lazily with xarray on the cube's dask arrays, so the same code runs on local threads or on the
platform's Dask cluster; only `to_frame` computes. Only built-in xarray/dask operations are used, so
cluster workers need no code from this repository.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import xarray as xr

TARGET = "fire"
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
