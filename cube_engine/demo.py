"""A small, realistic sample input set and the config that builds a cube from it.

Three products on different grids, as in the benchmark (scaled by the region size):
- `meteo`: 0.01°, wider than the region, 3 variables, one file per day (exact window cut);
- `lst`: 0.025°, latitude ascending, two observations a day, int16 with scale/offset (bilinear);
- `s2`: 0.005°, covering part of the region, ~50 % cloud NaN, zlib-compressed (block mean);
plus static layers as GeoTIFF: a DEM (block mean) and a land-cover map (mode), and (in the demo,
`SampleSpec.fire`) `fire`: daily active-fire occurrence on the cube's own 0.01° grid, drawn from the
drivers by a known rule (`fire_probability`) so that a fire-danger model has something real to learn
and its tests know the skill it can reach.
The benchmark uses the same generator with a 10° region and 30 or 120 days.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

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
from .demo_fire import write_fire
from .errors import CubeEngineError


def write_sample(root: str | Path, spec: SampleSpec = DEMO, seed: int = 0) -> dict:
    """Write the sample inputs under `root`; returns {product: [files]}. Each day's values depend
    on (seed, day) only, so days written later (`extend_demo`) continue the same series."""
    root = Path(root)
    days = pd.date_range(spec.start, periods=spec.days, freq="D")
    s = spec.size
    written: dict[str, list[str]] = {"meteo": [], "lst": [], "s2": []}

    lon1, lat1 = meteo_axes(spec)
    # lst: 0.025°, 5 % wider, latitude ascending.
    lon2 = axis(spec.lon0 - 0.05 * s, spec.lon0 + 1.05 * s, 0.025)
    lat2 = axis(spec.lat0 - 0.05 * s, spec.lat0 + 1.05 * s, 0.025)
    # s2: 0.005°, the region's south-west 70 % x 70 % (about half of it), offset by a pixel.
    lon3 = axis(spec.lon0 + 0.15 * s, spec.lon0 + 0.85 * s, 0.005)
    lat3 = axis(spec.lat0 + 0.15 * s, spec.lat0 + 0.85 * s, 0.005)[::-1]
    grid2 = np.meshgrid(lon2, lat2)
    grid3 = np.meshgrid(lon3, lat3)
    for day in days:
        rng = np.random.default_rng([seed, day.toordinal()])
        season = season_of(day)
        t2m, tp, ssrd = meteo_fields(rng, spec, day)
        path = root / "meteo" / f"meteo_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nc(
            path,
            lon1,
            lat1,
            pd.DatetimeIndex([day + pd.Timedelta(hours=12)]),
            {
                "t2m": (
                    t2m[None].astype("float32"),
                    {"units": "K", "long_name": "2 metre temperature", "standard_name": "air_temperature"},
                ),
                "tp": (tp[None].astype("float32"), {"units": "mm", "long_name": "total precipitation"}),
                "ssrd": (
                    ssrd[None].astype("float32"),
                    {"units": "W m-2", "long_name": "surface solar radiation"},
                ),
            },
        )
        written["meteo"].append(str(path))

        lon, lat = grid2
        stamps = pd.DatetimeIndex(
            [day + pd.Timedelta(hours=10, minutes=30), day + pd.Timedelta(hours=22, minutes=30)]
        )
        base = 290 + 10 * season - 0.8 * (lat - spec.lat0)
        lst = np.stack([base + 6, base - 4]) + rng.standard_normal((2, *lon.shape))
        lst[:, rng.random(lon.shape) < 0.05] = np.nan
        no2 = np.abs(3 + smooth_noise(rng, lon.shape, 6) + 0.3 * rng.standard_normal((2, *lon.shape)))
        aod = np.clip(
            0.2 + 0.05 * smooth_noise(rng, lon.shape, 6) + 0.01 * rng.standard_normal((2, *lon.shape)),
            0,
            None,
        )
        path = root / "lst" / f"lst_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nc(
            path,
            lon2,
            lat2,
            stamps,
            {
                "lst": (
                    lst.astype("float32"),
                    {
                        "units": "K",
                        "long_name": "land surface temperature",
                        "standard_name": "surface_temperature",
                    },
                ),
                "no2": (no2.astype("float32"), {"units": "1e-5 mol m-2", "long_name": "NO2 column"}),
                "aod": (aod.astype("float32"), {"units": "1", "long_name": "aerosol optical depth"}),
            },
            int16={"lst": (0.02, 300.0)},
        )
        written["lst"].append(str(path))

        lon, lat = grid3
        clouds = smooth_noise(rng, lon.shape, 10) > 0.0  # ~50 % cloudy
        ndvi = np.clip(
            0.5 + 0.2 * np.sin(lon * 3) * np.cos(lat * 2) + 0.05 * rng.standard_normal(lon.shape), -1, 1
        )
        evi = 0.8 * ndvi + 0.02 * rng.standard_normal(lon.shape)
        lai = np.clip(6 * ndvi + 0.2 * rng.standard_normal(lon.shape), 0, None)
        layers = {}
        for name, data, units, long_name in (
            ("ndvi", ndvi, "1", "normalised difference vegetation index"),
            ("evi", evi, "1", "enhanced vegetation index"),
            ("lai", lai, "m2 m-2", "leaf area index"),
        ):
            data = np.where(clouds, np.nan, data).astype("float32")
            layers[name] = (data[None], {"units": units, "long_name": long_name})
        path = root / "s2" / f"s2_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nc(path, lon3, lat3, pd.DatetimeIndex([day + pd.Timedelta(hours=10)]), layers, zlib=True)
        written["s2"].append(str(path))

    if spec.fire:
        written["fire"] = write_fire(root, spec, days, seed)
    if spec.statics:
        written.update(_write_statics(root, spec))
    return written


def _write_statics(root: Path, spec: SampleSpec) -> dict:
    import rasterio
    from rasterio.transform import from_origin

    res = 0.005
    n = round(spec.size / res)
    transform = from_origin(spec.lon0, spec.lat0 + spec.size, res, res)
    dem, classes = static_fields(spec)
    out = {}
    (root / "static").mkdir(parents=True, exist_ok=True)
    for name, data, dtype, nodata in (("dem", dem, "float32", -9999.0), ("landcover", classes, "uint8", 0)):
        path = root / "static" / f"{name}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=n,
            height=n,
            count=1,
            dtype=dtype,
            crs="EPSG:4326",
            transform=transform,
            nodata=nodata,
            compress="deflate",
        ) as dst:
            dst.write(data.astype(dtype), 1)
        out[name] = [str(path)]
    return out


def sample_config(
    spec: SampleSpec = DEMO,
    *,
    output: str = "cube.zarr",
    chunks: dict | None = None,
    title: str = "DeepCube demo cube",
    statics: bool | None = None,
    open_ended: bool = False,
) -> dict:
    """The cube config (as a plain mapping, paths relative to the sample root); `open_ended`
    leaves out `time.end`, so the axis ends with the latest input and `append` adds later days."""
    days = pd.date_range(spec.start, periods=spec.days, freq="D")
    sources = [
        {
            "name": "meteo",
            "paths": ["meteo/meteo_*.nc"],
            "resampling": "nearest",
            "variables": [
                {"name": "t2m", "rename": "air_temperature_2m"},
                {"name": "tp", "rename": "precipitation", "aggregation": "sum"},
                {"name": "ssrd", "rename": "surface_solar_radiation"},
            ],
        },
        {
            "name": "lst",
            "paths": ["lst/lst_*.nc"],
            "resampling": "bilinear",
            "variables": [
                {"name": "lst", "rename": "land_surface_temperature"},
                {"name": "no2", "rename": "no2_column"},
                {"name": "aod", "rename": "aerosol_optical_depth", "aggregation": "max"},
            ],
        },
        {
            "name": "s2",
            "paths": ["s2/s2_*.nc"],
            "resampling": "block_mean",
            "variables": [{"name": "ndvi"}, {"name": "evi"}, {"name": "lai", "long_name": "leaf area index"}],
        },
    ]
    if spec.fire:
        sources.append(
            {
                "name": "fire",
                "paths": ["fire/fire_*.nc"],
                "resampling": "nearest",
                "variables": [{"name": "fire", "aggregation": "max"}],
            }
        )
    if spec.statics if statics is None else statics:
        sources += [
            {
                "name": "dem",
                "paths": ["static/dem.tif"],
                "static": True,
                "resampling": "block_mean",
                "variables": [
                    {
                        "name": "elevation",
                        "units": "m",
                        "long_name": "terrain elevation",
                        "standard_name": "surface_altitude",
                    }
                ],
            },
            {
                "name": "landcover",
                "paths": ["static/landcover.tif"],
                "static": True,
                "resampling": "mode",
                "variables": [{"name": "land_cover", "units": "1", "long_name": "land cover class"}],
            },
        ]
    return {
        "title": title,
        "summary": "Three EO/weather products and static layers harmonised on a 0.01 degree daily grid.",
        "sources": sources,
        "grid": {"crs": "EPSG:4326", "bbox": list(spec.bbox), "resolution": 0.01},
        "time": {
            "start": f"{days[0]:%Y-%m-%d}",
            **({} if open_ended else {"end": f"{days[-1]:%Y-%m-%d}"}),
            "frequency": "1D",
            "aggregation": "mean",
        },
        "chunks": chunks or {"time": 5, "y": 100, "x": 100},
        "output": {"path": output, "zarr_format": 2, "compressor": "blosc-zstd"},
    }


def write_demo(root: str | Path, spec: SampleSpec = DEMO, days: int | None = None) -> Path:
    """`cube-engine demo-data DIR`: sample inputs plus `DIR/cube.yaml` (output `DIR/cube.zarr`,
    open-ended time axis)."""
    root = Path(root)
    spec = spec if days is None else replace(spec, days=days)
    root.mkdir(parents=True, exist_ok=True)
    write_sample(root, spec)
    path = root / "cube.yaml"
    path.write_text(yaml.safe_dump(sample_config(spec, open_ended=True), sort_keys=False))
    return path


def extend_demo(root: str | Path, days: int, spec: SampleSpec = DEMO) -> tuple[pd.Timestamp, pd.Timestamp]:
    """`cube-engine demo-data DIR --extend N`: N more days of inputs after the last day in DIR, as
    new files arrive in an archive; returns the first and last new day."""
    root = Path(root)
    existing = sorted((root / "meteo").glob("meteo_*.nc"))
    if not existing or not (root / "cube.yaml").exists():
        raise CubeEngineError(
            f"DIR: no sample inputs in {root} to extend (write them with `cube-engine demo-data {root}`)"
        )
    try:
        first = pd.Timestamp(existing[-1].stem.split("_", 1)[1]) + pd.Timedelta(days=1)
    except ValueError:
        raise CubeEngineError(f"DIR: {existing[-1]} is not a sample file (meteo_YYYYMMDD.nc)") from None
    write_sample(root, replace(spec, start=f"{first:%Y-%m-%d}", days=days, statics=False))
    return first, first + pd.Timedelta(days=days - 1)
