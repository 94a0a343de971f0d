"""The demo's building blocks: its size and products (`SampleSpec`), smooth random fields, the
weather and static layers as arrays, and the NetCDF writer every product uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SampleSpec:
    lon0: float = 10.0
    lat0: float = 45.0
    size: float = 2.0  # region side in degrees
    days: int = 10
    start: str = "2024-06-01"
    statics: bool = True
    fire: bool = False  # the fire-occurrence product (the fire-danger use case's target)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.lon0, self.lat0, self.lon0 + self.size, self.lat0 + self.size)


DEMO = SampleSpec(fire=True)
BENCH = SampleSpec(size=10.0, days=30, statics=False)


def axis(start: float, stop: float, res: float) -> np.ndarray:
    n = round((stop - start) / res)
    return np.round(start + (np.arange(n) + 0.5) * res, 10)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 12) -> np.ndarray:
    from scipy.ndimage import zoom

    coarse = rng.standard_normal((cells, cells)).astype("float32")
    return zoom(coarse, (shape[0] / cells, shape[1] / cells), order=1)[: shape[0], : shape[1]]


def write_nc(
    path: Path,
    lon: np.ndarray,
    lat: np.ndarray,
    times: pd.DatetimeIndex,
    variables: dict[str, tuple[np.ndarray, dict]],
    *,
    zlib: bool = False,
    int16: dict | None = None,
):
    import netCDF4

    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("time", len(times))
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "hours since 2000-01-01 00:00:00", "standard", "time"
        t[:] = (times - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1)
        y = ds.createVariable("lat", "f8", ("lat",))
        y.units, y.standard_name = "degrees_north", "latitude"
        y[:] = lat
        x = ds.createVariable("lon", "f8", ("lon",))
        x.units, x.standard_name = "degrees_east", "longitude"
        x[:] = lon
        for name, (data, attrs) in variables.items():
            packed = int16 and name in int16
            kwargs = (
                {
                    "zlib": True,
                    "complevel": 4,
                    "shuffle": True,
                    "chunksizes": (1, min(lat.size, 350), min(lon.size, 350)),
                }
                if zlib
                else {}
            )
            if packed:
                v = ds.createVariable(
                    name, "i2", ("time", "lat", "lon"), fill_value=np.int16(-32768), **kwargs
                )
                v.set_auto_maskandscale(False)
                scale, offset = int16[name]
                v.scale_factor, v.add_offset = scale, offset
                raw = np.round((data - offset) / scale)
                raw = np.where(np.isnan(data), -32768, raw).astype("int16")
                v[:] = raw
            else:
                v = ds.createVariable(
                    name, "f4", ("time", "lat", "lon"), fill_value=np.float32(np.nan), **kwargs
                )
                v[:] = data
            for key, value in attrs.items():
                v.setncattr(key, value)
        ds.Conventions = "CF-1.8"


def season_of(day: pd.Timestamp) -> float:
    return float(np.sin(2 * np.pi * (day.dayofyear - 100) / 365))


def meteo_axes(spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """The meteo product's grid: 0.01°, 10 % wider on each side than the region."""
    s = spec.size
    lon1 = axis(spec.lon0 - 0.1 * s, spec.lon0 + 1.1 * s, 0.01)
    lat1 = axis(spec.lat0 - 0.1 * s, spec.lat0 + 1.1 * s, 0.01)[::-1]
    return lon1, lat1


def meteo_fields(
    rng: np.random.Generator, spec: SampleSpec, day: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t2m, tp, ssrd on the meteo grid: the first draws of the day's generator, so the fire rule
    can replay any earlier day's weather from (seed, day) alone."""
    lon, lat = np.meshgrid(*meteo_axes(spec))
    terrain1 = smooth_noise(np.random.default_rng(1), lon.shape)
    season = season_of(day)
    t2m = 288 + 8 * season - 0.7 * (lat - spec.lat0) + 3 * terrain1 + 0.3 * rng.standard_normal(lon.shape)
    tp = np.maximum(0, 2 * smooth_noise(rng, lon.shape, 8) + 0.2 * rng.standard_normal(lon.shape))
    ssrd = 200 + 80 * season + 20 * np.cos(np.radians(lat)) + 5 * rng.standard_normal(lon.shape)
    return t2m, tp, ssrd


def static_fields(spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """DEM (m) and land-cover classes 1..6 at 0.005° over the region (north-up)."""
    res = 0.005
    rng = np.random.default_rng(7)
    lon, _lat = np.meshgrid(
        axis(spec.lon0, spec.lon0 + spec.size, res), axis(spec.lat0, spec.lat0 + spec.size, res)[::-1]
    )
    dem = 400 + 900 * np.clip(smooth_noise(rng, lon.shape, 6), 0, None) + 30 * rng.standard_normal(lon.shape)
    classes = np.digitize(smooth_noise(rng, lon.shape, 16), [-0.8, -0.2, 0.4, 1.0]) + 1  # 1..5
    classes[dem > 1200] = 6
    return dem, classes

