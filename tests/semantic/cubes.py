"""Tiny synthetic cubes written with plain xarray, following the cube engine's conventions.

Values are a deterministic function of (t, row, col, variable) so tests can recompute any of them;
`nan_every` puts NaN on a regular pattern so NULL handling is exercised. With `static`, two (y, x)
layers come along: a float32 `elevation` with a few NaN cells, and an integer `land_cover` class (as
uint8, or as float32 with a few NaN cells, the way mode resampling hands classes over).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

UNITS = {"t2m": "K", "precip": "mm", "ndvi": "1", "lst": "K"}
LONG_NAMES = {
    "t2m": "2 m air temperature",
    "precip": "total precipitation",
    "ndvi": "NDVI",
    "lst": "land surface temperature",
}


def values(t: int, row: np.ndarray, col: np.ndarray, k: int) -> np.ndarray:
    """The value of variable number k at (t, row, col), as float32."""
    return (100.0 * k + t + 0.25 * row + 0.125 * col).astype(np.float32)


def elevation(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Static float32 layer: 10 m per row plus 1 m per column plus 0.25 m (not a whole number, so it
    stays a float column); NaN where (row + 2 col) % 17 == 5."""
    value = (row * 10.0 + col + 0.25).astype(np.float32)
    return np.where((row + 2 * col) % 17 == 5, np.float32(np.nan), value).astype(np.float32)


def land_cover(row: np.ndarray, col: np.ndarray, dtype: str = "uint8") -> np.ndarray:
    """Static integer layer: classes 1..4 in blocks of 3 x 4 cells. As a float dtype, NaN where
    (3 row + col) % 13 == 7."""
    classes = (np.asarray(row) // 3 + np.asarray(col) // 4) % 4 + 1
    if np.dtype(dtype).kind != "f":
        return classes.astype(dtype)
    return np.where((3 * np.asarray(row) + np.asarray(col)) % 13 == 7, np.nan, classes).astype(dtype)


def make_cube(
    path: str | Path,
    *,
    height: int = 12,
    width: int = 10,
    times: int = 5,
    variables: tuple[str, ...] = ("t2m", "precip"),
    crs: str = "EPSG:4326",
    origin: tuple[float, float] = (10.0, 50.0),  # west, north edges
    res: float = 0.01,
    start: str = "2020-01-01",
    freq: str = "D",
    nan_every: int = 7,
    chunks: tuple[int, int, int] = (2, 5, 5),
    zarr_format: int = 2,
    irregular: bool = False,
    static: bool = True,
    land_cover_dtype: str = "uint8",
    title: str | None = None,
    variable_attrs: dict[str, dict] | None = None,
    storage_options: dict | None = None,
) -> str:
    """Write a cube and return its path/URI."""
    pyproj_crs = CRS.from_user_input(crs)
    geographic = pyproj_crs.is_geographic
    ydim, xdim = ("lat", "lon") if geographic else ("y", "x")
    west, north = origin
    x = west + (np.arange(width) + 0.5) * res
    y = north - (np.arange(height) + 0.5) * res
    if irregular:
        x = x.copy()
        x[-1] += res * 0.4
    time = pd.date_range(start, periods=times, freq=freq)
    row = np.arange(height)[:, None]
    col = np.arange(width)[None, :]
    data_vars = {}
    flat_index = np.arange(times)[:, None, None] * height * width + row * width + col
    for k, name in enumerate(variables):
        cube = np.stack([values(t, row, col, k) for t in range(times)])
        if nan_every:
            cube = np.where((flat_index + k) % nan_every == 0, np.nan, cube).astype(np.float32)
        data_vars[name] = xr.Variable(
            ("time", ydim, xdim),
            cube,
            attrs={
                "units": UNITS.get(name, "1"),
                "long_name": LONG_NAMES.get(name, name),
                "grid_mapping": "crs",
                **(variable_attrs or {}).get(name, {}),
            },
        )
    if static:
        data_vars["elevation"] = xr.Variable(
            (ydim, xdim),
            elevation(row, col),
            attrs={"units": "m", "long_name": "elevation", "grid_mapping": "crs"},
        )
        data_vars["land_cover"] = xr.Variable(
            (ydim, xdim),
            land_cover(row, col, land_cover_dtype),
            attrs={"units": "1", "long_name": "land cover class", "grid_mapping": "crs"},
        )
    cf = pyproj_crs.to_cf()
    cf["spatial_ref"] = cf["crs_wkt"]
    data_vars["crs"] = xr.Variable((), np.int32(0), attrs=cf)
    ds = xr.Dataset(
        data_vars,
        coords={"time": time, ydim: y, xdim: x},
        attrs={
            "title": title if title is not None else f"test cube {Path(str(path)).name}",
            "geospatial_lon_min": float(x.min() - res / 2),
            "geospatial_lon_max": float(x.max() + res / 2),
            "geospatial_lat_min": float(y.min() - res / 2),
            "geospatial_lat_max": float(y.max() + res / 2),
            "time_coverage_start": str(time[0]),
            "time_coverage_end": str(time[-1]),
        },
    )
    encoding = {name: {"chunks": chunks} for name in variables}
    if static:
        encoding["elevation"] = {"chunks": chunks[1:]}
        encoding["land_cover"] = {"chunks": chunks[1:]}
    ds.to_zarr(
        str(path),
        mode="w",
        consolidated=True,
        zarr_format=zarr_format,
        encoding=encoding,
        storage_options=storage_options,
    )
    return str(path)
