"""The demo's `fire` product: daily active-fire occurrence drawn from the drivers by a known rule
(`fire_probability`), so a fire-danger model has something real to learn and its tests know the
skill it can reach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .demo_fields import (
    DEMO,
    SampleSpec,
    axis,
    meteo_axes,
    meteo_fields,
    season_of,
    smooth_noise,
    static_fields,
    write_nc,
)

FIRE_INTERCEPT = -3.6
FIRE_HEAT = 0.9  # per K of 2 m temperature above 288 K + the season, on day d-1
FIRE_RAIN = -0.9  # per mm of precipitation summed over days d-3..d-1 (lagged dryness)
FIRE_GREEN = -6.0  # per unit of noise-free NDVI above 0.5 (green vegetation burns less)
FIRE_NOISE = 0.5  # std of an unobserved smooth daily field (ignitions, wind)
# Added log-odds per land-cover class: 1 water/urban, 2 shrubland, 3 grassland, 4 forest,
# 5 cropland, 6 bare rock above 1200 m; averaged over the 2x2 source pixels of each cube cell.
FIRE_LAND_COVER = {1: -4.0, 2: 1.2, 3: 0.8, 4: 0.3, 5: -0.5, 6: -4.0}


def fire_axes(spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """The fire product's grid: the cube's own 0.01° grid over the region, north-up."""
    lon = axis(spec.lon0, spec.lon0 + spec.size, 0.01)
    lat = axis(spec.lat0, spec.lat0 + spec.size, 0.01)[::-1]
    return lon, lat


def fire_probability(day: str | pd.Timestamp, spec: SampleSpec = DEMO, seed: int = 0) -> np.ndarray:
    """P(fire) on `day` per cell of `fire_axes(spec)`: logistic in the previous day's heat, the
    previous three days' rain, greenness and land cover, plus an unobserved smooth noise. Public so
    that tests can compute the skill a perfect model would reach on the same days."""
    day = pd.Timestamp(day).normalize()
    lon, lat = np.meshgrid(*fire_axes(spec))
    lon1, lat1 = meteo_axes(spec)
    col = int(np.argmin(np.abs(lon1 - lon[0, 0])))
    row = int(np.argmin(np.abs(lat1 - lat[0, 0])))
    window = (slice(row, row + lon.shape[0]), slice(col, col + lon.shape[1]))
    rain = np.zeros(lon.shape)
    for back in (1, 2, 3):
        before = day - pd.Timedelta(days=back)
        t2m, tp, _ = meteo_fields(np.random.default_rng([seed, before.toordinal()]), spec, before)
        rain += tp[window]
        if back == 1:
            heat = t2m[window] - 288 - 8 * season_of(before)
    green = 0.2 * np.sin(lon * 3) * np.cos(lat * 2)  # the s2 product's NDVI minus 0.5, cloud-free
    _dem, classes = static_fields(spec)
    weights = np.vectorize(FIRE_LAND_COVER.get)(classes).astype("float64")
    cover = weights.reshape(lon.shape[0], 2, lon.shape[1], 2).mean(axis=(1, 3))
    noise = smooth_noise(np.random.default_rng([seed, day.toordinal(), 3]), lon.shape, 10)
    logit = (
        FIRE_INTERCEPT + FIRE_HEAT * heat + FIRE_RAIN * rain + FIRE_GREEN * green + cover + FIRE_NOISE * noise
    )
    return 1 / (1 + np.exp(-logit))


def write_fire(root: Path, spec: SampleSpec, days: pd.DatetimeIndex, seed: int) -> list[str]:
    """One file a day: fire occurrence (0/1) drawn from `fire_probability`, as a gridded
    active-fire product would report it at its early-afternoon overpass."""
    lon, lat = fire_axes(spec)
    paths = []
    for day in days:
        p = fire_probability(day, spec, seed)
        fire = (np.random.default_rng([seed, day.toordinal(), 4]).random(p.shape) < p).astype("float32")
        path = root / "fire" / f"fire_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        attrs = {"units": "1", "long_name": "active fire occurrence (0/1)", "flag_values": "0 1"}
        stamp = pd.DatetimeIndex([day + pd.Timedelta(hours=13, minutes=30)])
        write_nc(path, lon, lat, stamp, {"fire": (fire[None], attrs)}, zlib=True)
        paths.append(str(path))
    return paths
