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

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import CubeEngineError


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


def _axis(start: float, stop: float, res: float) -> np.ndarray:
    n = round((stop - start) / res)
    return np.round(start + (np.arange(n) + 0.5) * res, 10)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 12) -> np.ndarray:
    from scipy.ndimage import zoom

    coarse = rng.standard_normal((cells, cells)).astype("float32")
    return zoom(coarse, (shape[0] / cells, shape[1] / cells), order=1)[: shape[0], : shape[1]]


def _write_nc(
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


def _season(day: pd.Timestamp) -> float:
    return float(np.sin(2 * np.pi * (day.dayofyear - 100) / 365))


def _meteo_axes(spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """The meteo product's grid: 0.01°, 10 % wider on each side than the region."""
    s = spec.size
    lon1 = _axis(spec.lon0 - 0.1 * s, spec.lon0 + 1.1 * s, 0.01)
    lat1 = _axis(spec.lat0 - 0.1 * s, spec.lat0 + 1.1 * s, 0.01)[::-1]
    return lon1, lat1


def _meteo_fields(
    rng: np.random.Generator, spec: SampleSpec, day: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t2m, tp, ssrd on the meteo grid: the first draws of the day's generator, so the fire rule
    can replay any earlier day's weather from (seed, day) alone."""
    lon, lat = np.meshgrid(*_meteo_axes(spec))
    terrain1 = _smooth_noise(np.random.default_rng(1), lon.shape)
    season = _season(day)
    t2m = 288 + 8 * season - 0.7 * (lat - spec.lat0) + 3 * terrain1 + 0.3 * rng.standard_normal(lon.shape)
    tp = np.maximum(0, 2 * _smooth_noise(rng, lon.shape, 8) + 0.2 * rng.standard_normal(lon.shape))
    ssrd = 200 + 80 * season + 20 * np.cos(np.radians(lat)) + 5 * rng.standard_normal(lon.shape)
    return t2m, tp, ssrd


def write_sample(root: str | Path, spec: SampleSpec = DEMO, seed: int = 0) -> dict:
    """Write the sample inputs under `root`; returns {product: [files]}. Each day's values depend
    on (seed, day) only, so days written later (`extend_demo`) continue the same series."""
    root = Path(root)
    days = pd.date_range(spec.start, periods=spec.days, freq="D")
    s = spec.size
    written: dict[str, list[str]] = {"meteo": [], "lst": [], "s2": []}

    lon1, lat1 = _meteo_axes(spec)
    # lst: 0.025°, 5 % wider, latitude ascending.
    lon2 = _axis(spec.lon0 - 0.05 * s, spec.lon0 + 1.05 * s, 0.025)
    lat2 = _axis(spec.lat0 - 0.05 * s, spec.lat0 + 1.05 * s, 0.025)
    # s2: 0.005°, the region's south-west 70 % x 70 % (about half of it), offset by a pixel.
    lon3 = _axis(spec.lon0 + 0.15 * s, spec.lon0 + 0.85 * s, 0.005)
    lat3 = _axis(spec.lat0 + 0.15 * s, spec.lat0 + 0.85 * s, 0.005)[::-1]
    grid2 = np.meshgrid(lon2, lat2)
    grid3 = np.meshgrid(lon3, lat3)
    for day in days:
        rng = np.random.default_rng([seed, day.toordinal()])
        season = _season(day)
        t2m, tp, ssrd = _meteo_fields(rng, spec, day)
        path = root / "meteo" / f"meteo_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_nc(
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
        no2 = np.abs(3 + _smooth_noise(rng, lon.shape, 6) + 0.3 * rng.standard_normal((2, *lon.shape)))
        aod = np.clip(
            0.2 + 0.05 * _smooth_noise(rng, lon.shape, 6) + 0.01 * rng.standard_normal((2, *lon.shape)),
            0,
            None,
        )
        path = root / "lst" / f"lst_{day:%Y%m%d}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_nc(
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
        clouds = _smooth_noise(rng, lon.shape, 10) > 0.0  # ~50 % cloudy
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
        _write_nc(path, lon3, lat3, pd.DatetimeIndex([day + pd.Timedelta(hours=10)]), layers, zlib=True)
        written["s2"].append(str(path))

    if spec.fire:
        written["fire"] = _write_fire(root, spec, days, seed)
    if spec.statics:
        written.update(_write_statics(root, spec))
    return written


def _static_fields(spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """DEM (m) and land-cover classes 1..6 at 0.005° over the region (north-up)."""
    res = 0.005
    rng = np.random.default_rng(7)
    lon, _lat = np.meshgrid(
        _axis(spec.lon0, spec.lon0 + spec.size, res), _axis(spec.lat0, spec.lat0 + spec.size, res)[::-1]
    )
    dem = 400 + 900 * np.clip(_smooth_noise(rng, lon.shape, 6), 0, None) + 30 * rng.standard_normal(lon.shape)
    classes = np.digitize(_smooth_noise(rng, lon.shape, 16), [-0.8, -0.2, 0.4, 1.0]) + 1  # 1..5
    classes[dem > 1200] = 6
    return dem, classes


# Fire rule: the log-odds of a fire on day d, from what the cube shows for the days before it.
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
    lon = _axis(spec.lon0, spec.lon0 + spec.size, 0.01)
    lat = _axis(spec.lat0, spec.lat0 + spec.size, 0.01)[::-1]
    return lon, lat


def fire_probability(day: str | pd.Timestamp, spec: SampleSpec = DEMO, seed: int = 0) -> np.ndarray:
    """P(fire) on `day` per cell of `fire_axes(spec)`: logistic in the previous day's heat, the
    previous three days' rain, greenness and land cover, plus an unobserved smooth noise. Public so
    that tests can compute the skill a perfect model would reach on the same days."""
    day = pd.Timestamp(day).normalize()
    lon, lat = np.meshgrid(*fire_axes(spec))
    lon1, lat1 = _meteo_axes(spec)
    col = int(np.argmin(np.abs(lon1 - lon[0, 0])))
    row = int(np.argmin(np.abs(lat1 - lat[0, 0])))
    window = (slice(row, row + lon.shape[0]), slice(col, col + lon.shape[1]))
    rain = np.zeros(lon.shape)
    for back in (1, 2, 3):
        before = day - pd.Timedelta(days=back)
        t2m, tp, _ = _meteo_fields(np.random.default_rng([seed, before.toordinal()]), spec, before)
        rain += tp[window]
        if back == 1:
            heat = t2m[window] - 288 - 8 * _season(before)
    green = 0.2 * np.sin(lon * 3) * np.cos(lat * 2)  # the s2 product's NDVI minus 0.5, cloud-free
    _dem, classes = _static_fields(spec)
    weights = np.vectorize(FIRE_LAND_COVER.get)(classes).astype("float64")
    cover = weights.reshape(lon.shape[0], 2, lon.shape[1], 2).mean(axis=(1, 3))
    noise = _smooth_noise(np.random.default_rng([seed, day.toordinal(), 3]), lon.shape, 10)
    logit = (
        FIRE_INTERCEPT + FIRE_HEAT * heat + FIRE_RAIN * rain + FIRE_GREEN * green + cover
        + FIRE_NOISE * noise
    )
    return 1 / (1 + np.exp(-logit))


def _write_fire(root: Path, spec: SampleSpec, days: pd.DatetimeIndex, seed: int) -> list[str]:
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
        _write_nc(path, lon, lat, stamp, {"fire": (fire[None], attrs)}, zlib=True)
        paths.append(str(path))
    return paths


def _write_statics(root: Path, spec: SampleSpec) -> dict:
    import rasterio
    from rasterio.transform import from_origin

    res = 0.005
    n = round(spec.size / res)
    transform = from_origin(spec.lon0, spec.lat0 + spec.size, res, res)
    dem, classes = _static_fields(spec)
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
