"""Source discovery and windowed reading for NetCDF, GeoTIFF (one file per time step) and Zarr.

Discovery runs once, before anything is written: it lists the files, reads their coordinates and
times, checks that every configured variable exists, and derives the source `Grid`. Reading is then
a pure function of (file, variable, time indices, pixel window): only that window is decoded.
HDF5 and GDAL are not thread-safe, so their calls are serialised by one lock per library; open
handles are kept in a small LRU so a time block's files are opened once per process.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from .config import SourceConfig, VariableConfig
from .errors import GridError, SourceError
from .grid import Grid, parse_crs
from .storage import expand, is_remote, local_file, normalise_options

X_NAMES = ("lon", "longitude", "x")
Y_NAMES = ("lat", "latitude", "y")
T_NAMES = ("time", "t")

_NC_LOCK = threading.RLock()
_TIF_LOCK = _NC_LOCK  # one lock: the handle cache is shared too
_HANDLES: OrderedDict[tuple[str, str], Any] = OrderedDict()
_MAX_HANDLES = int(os.environ.get("CUBE_ENGINE_MAX_OPEN_FILES", "48"))
# netCDF-C gives every chunked variable a 64 MiB chunk cache; with dozens of files open that is most
# of the process's memory, and a task reads each file window once anyway.
_CHUNK_CACHE = int(float(os.environ.get("CUBE_ENGINE_NC_CHUNK_CACHE_MB", "2")) * 2**20)


@dataclass
class VariableInfo:
    """How to turn raw values of one variable into physical float32 values."""

    config: VariableConfig
    dims: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    fill: float | None = None
    scale_factor: float = 1.0
    add_offset: float = 0.0

    def decode(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Physical float32 values of `raw`, written into `out` when given (no other copy)."""
        if out is None:
            out = np.empty(raw.shape, dtype="float32")
        np.copyto(out, raw, casting="unsafe")
        if self.fill is not None and not np.isnan(self.fill):
            out[raw == self.fill] = np.nan
        for scale, offset in ((self.scale_factor, self.add_offset), (self.config.scale, self.config.offset)):
            if scale != 1.0 or offset != 0.0:
                out *= np.float32(scale)
                out += np.float32(offset)
        return out


@dataclass
class SourceInfo:
    """A discovered source: its grid, files, observations (time-sorted) and variables."""

    config: SourceConfig
    index: int
    kind: str
    grid: Grid
    files: list[str]
    obs_file: np.ndarray  # file index of each observation
    obs_step: np.ndarray  # time index inside that file
    obs_time: np.ndarray  # datetime64[ns]
    variables: dict[str, VariableInfo]
    y_flipped_in_file: bool = False

    @property
    def what(self) -> str:
        return f"source {self.config.name!r} (sources.{self.index})"

    @property
    def static(self) -> bool:
        return self.config.static


# -- discovery ----------------------------------------------------------------------------------------


def detect_format(path: str) -> str:
    lower = path.lower().rstrip("/")
    if lower.endswith((".nc", ".nc4", ".netcdf", ".h5", ".cdf")):
        return "netcdf"
    if lower.endswith((".tif", ".tiff")):
        return "geotiff"
    if lower.endswith(".zarr") or (not is_remote(path) and os.path.isdir(path)):
        return "zarr"
    return "netcdf"


def discover(source: SourceConfig, index: int) -> SourceInfo:
    what = f"source {source.name!r} (sources.{index}.paths)"
    files: list[str] = []
    for pattern in source.paths:
        files.extend(expand(pattern, source.storage_options, what))
    kind = source.format if source.format != "auto" else detect_format(files[0])
    if kind == "netcdf":
        return _discover_netcdf(source, index, files)
    if kind == "geotiff":
        return _discover_geotiff(source, index, files)
    return _discover_zarr(source, index, files)


def _find_name(names, candidates, what: str, kind: str) -> str | None:
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def _nc_crs(ds, var, source: SourceConfig, is_geo: bool, what: str):
    if source.crs:
        return parse_crs(source.crs)
    mapping = getattr(var, "grid_mapping", None) if "grid_mapping" in var.ncattrs() else None
    if mapping and mapping in ds.variables:
        gm = ds.variables[mapping]
        for attr in ("crs_wkt", "spatial_ref"):
            if attr in gm.ncattrs():
                return parse_crs(gm.getncattr(attr))
    if is_geo:
        return parse_crs("EPSG:4326")
    raise SourceError(f"{what}: no CRS in the file and none configured (set `crs`)")


def _decode_times(values, units: str, calendar: str) -> np.ndarray:
    from xarray.coding.times import decode_cf_datetime

    return np.asarray(decode_cf_datetime(np.asarray(values), units, calendar), dtype="datetime64[ns]")


def _open_netcdf(path: str, what: str):
    import netCDF4

    try:
        with _NC_LOCK:
            ds = netCDF4.Dataset(path, "r")
            ds.set_auto_maskandscale(False)
            for var in ds.variables.values():
                if var.ndim >= 2 and var.chunking() != "contiguous":
                    var.set_var_chunk_cache(size=_CHUNK_CACHE)
        return ds
    except OSError as exc:
        raise SourceError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def _discover_netcdf(source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
    what = f"source {source.name!r} (sources.{index})"
    local = [local_file(f, source.storage_options, what) for f in files]
    grid = None
    obs_file, obs_step, obs_time = [], [], []
    variables: dict[str, VariableInfo] = {}
    for fi, path in enumerate(local):
        ds = _open_netcdf(path, what)
        try:
            with _NC_LOCK:
                names = list(ds.variables)
                xn = _find_name(names, X_NAMES, what, "x")
                yn = _find_name(names, Y_NAMES, what, "y")
                tn = _find_name(names, T_NAMES, what, "time")
                if xn is None or yn is None:
                    raise SourceError(f"{what}: no lon/lat or x/y coordinates in {files[fi]}")
                x, y = ds.variables[xn][:], ds.variables[yn][:]
                if fi == 0:
                    for vi, v in enumerate(source.variables):
                        if v.name not in ds.variables:
                            raise SourceError(
                                f"{what}: variable {v.name!r} not in {files[fi]} (has: {', '.join(names)})"
                                f" (sources.{index}.variables.{vi}.name)"
                            )
                        var = ds.variables[v.name]
                        attrs = {a: var.getncattr(a) for a in var.ncattrs()}
                        fill = v.fill_value
                        if fill is None:
                            fill = attrs.get("_FillValue", attrs.get("missing_value"))
                        if fill is not None:
                            fill = float(np.asarray(fill).ravel()[0])
                        dims = tuple(var.dimensions)
                        if dims[-2:] != (yn, xn):
                            raise SourceError(
                                f"{what}: variable {v.name!r} has dims {dims}, expected (..., {yn}, {xn})"
                            )
                        variables[v.output_name] = VariableInfo(
                            v,
                            dims,
                            attrs,
                            fill,
                            float(attrs.get("scale_factor", 1.0)),
                            float(attrs.get("add_offset", 0.0)),
                        )
                    is_geo = xn.lower() in ("lon", "longitude")
                    crs = _nc_crs(ds, ds.variables[source.variables[0].name], source, is_geo, what)
                    try:
                        grid = Grid.from_coords(x, y, crs, what=f"{what}: {files[fi]}")
                    except GridError as exc:
                        raise SourceError(str(exc)) from None
                elif (
                    x.shape != (grid.width,)
                    or y.shape != (grid.height,)
                    or not (
                        np.allclose(x, grid.x, atol=grid.res_x * 1e-3)
                        and np.allclose(y, grid.y, atol=grid.res_y * 1e-3)
                    )
                ):
                    raise SourceError(f"{what}: {files[fi]} is on a different grid than {files[0]}")
                has_time = tn is not None and tn in ds.variables[source.variables[0].name].dimensions
                if has_time:
                    tv = ds.variables[tn]
                    units = tv.getncattr("units") if "units" in tv.ncattrs() else None
                    if units is None:
                        raise SourceError(f"{what}: time variable without units in {files[fi]}")
                    cal = tv.getncattr("calendar") if "calendar" in tv.ncattrs() else "standard"
                    times = _decode_times(tv[:], units, cal)
                elif not source.static:
                    raise SourceError(f"{what}: {files[fi]} has no time dimension; set `static: true`")
                else:
                    times = np.array(["NaT"], dtype="datetime64[ns]")
        except (IndexError, KeyError, ValueError, RuntimeError) as exc:
            raise SourceError(f"{what}: cannot read {files[fi]}: {exc}") from None
        finally:
            with _NC_LOCK:
                ds.close()
        if source.static:
            times = times[:1]
        obs_file.extend([fi] * len(times))
        obs_step.extend(range(len(times)))
        obs_time.extend(times)
    # The plan keeps the files' own URIs: on a Dask cluster every worker fetches into its own cache.
    return _finish(source, index, "netcdf", grid, files, obs_file, obs_step, obs_time, variables)


def _finish(source, index, kind, grid, files, obs_file, obs_step, obs_time, variables) -> SourceInfo:
    obs_time = np.asarray(obs_time, dtype="datetime64[ns]")
    order = np.argsort(obs_time, kind="stable") if not source.static else np.arange(len(obs_time))
    return SourceInfo(
        source,
        index,
        kind,
        grid,
        files,
        np.asarray(obs_file, dtype="int64")[order],
        np.asarray(obs_step, dtype="int64")[order],
        obs_time[order],
        variables,
    )


_PATTERN_CODES = {
    "%Y": r"\d{4}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%j": r"\d{3}",
    "%y": r"\d{2}",
}


def time_from_name(name: str, pattern: str) -> np.datetime64 | None:
    """Parse the time in a file name with a strftime-like pattern (found anywhere in the name)."""
    regex = re.escape(pattern)
    for code, rx in _PATTERN_CODES.items():
        regex = regex.replace(re.escape(code), f"({rx})").replace(code, f"({rx})")
    match = re.search(regex, name)
    if not match:
        return None
    try:
        return np.datetime64(datetime.strptime(match.group(0), pattern), "ns")
    except ValueError:
        return None


def _discover_geotiff(source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
    import rasterio
    from rasterio.errors import RasterioIOError

    what = f"source {source.name!r} (sources.{index})"
    if not source.static and not source.time_pattern:
        raise SourceError(
            f"{what}: GeoTIFF time series need `time_pattern` (e.g. 'NDVI_%Y%m%d') or `static: true`"
        )
    local = [local_file(f, source.storage_options, what) for f in files]
    grid, times, variables = None, [], {}
    for fi, path in enumerate(local):
        try:
            with _TIF_LOCK, rasterio.open(path) as src:
                crs = (
                    parse_crs(source.crs)
                    if source.crs
                    else (parse_crs(src.crs.to_wkt()) if src.crs else None)
                )
                if crs is None:
                    raise SourceError(f"{what}: {files[fi]} has no CRS and none is configured (set `crs`)")
                g = Grid(src.width, src.height, src.transform, crs)
                if grid is None:
                    grid = g
                    for vi, v in enumerate(source.variables):
                        if v.band > src.count:
                            raise SourceError(
                                f"{what}: band {v.band} > {src.count} bands in {files[fi]}"
                                f" (sources.{index}.variables.{vi}.band)"
                            )
                        nodata = src.nodatavals[v.band - 1]
                        fill = v.fill_value if v.fill_value is not None else nodata
                        variables[v.output_name] = VariableInfo(
                            v,
                            ("band", "y", "x"),
                            {},
                            None if fill is None else float(fill),
                            float(src.scales[v.band - 1]),
                            float(src.offsets[v.band - 1]),
                        )
                elif g != grid:
                    raise SourceError(f"{what}: {files[fi]} is on a different grid than {files[0]}")
        except RasterioIOError as exc:
            raise SourceError(f"{what}: cannot read {files[fi]}: {exc}") from None
        if source.static:
            times.append(np.datetime64("NaT", "ns"))
        else:
            t = time_from_name(os.path.basename(files[fi]), source.time_pattern)
            if t is None:
                raise SourceError(
                    f"{what}: no time matching {source.time_pattern!r} in file name {files[fi]}"
                    f" (sources.{index}.time_pattern)"
                )
            times.append(t)
    if source.static:
        files, times = files[:1], times[:1]
    return _finish(
        source, index, "geotiff", grid, files, list(range(len(files))), [0] * len(files), times, variables
    )


def _open_zarr(path: str, options: dict[str, Any]):
    import xarray as xr

    kwargs = {"storage_options": normalise_options(path, options)} if is_remote(path) else {}
    return xr.open_zarr(path, consolidated=None, chunks=None, **kwargs)


def _discover_zarr(source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
    what = f"source {source.name!r} (sources.{index})"
    if len(files) != 1:
        raise SourceError(f"{what}: a Zarr source is one store, got {len(files)} paths")
    try:
        ds = _open_zarr(files[0], source.storage_options)
    except Exception as exc:
        raise SourceError(f"{what}: cannot open Zarr {files[0]}: {exc}") from None
    names = list(ds.variables)
    xn, yn = _find_name(names, X_NAMES, what, "x"), _find_name(names, Y_NAMES, what, "y")
    tn = _find_name(names, T_NAMES, what, "time")
    if xn is None or yn is None:
        raise SourceError(f"{what}: no lon/lat or x/y coordinates in {files[0]}")
    variables = {}
    for vi, v in enumerate(source.variables):
        if v.name not in ds.variables:
            raise SourceError(
                f"{what}: variable {v.name!r} not in {files[0]} (sources.{index}.variables.{vi}.name)"
            )
        var = ds[v.name]
        variables[v.output_name] = VariableInfo(v, tuple(var.dims), dict(var.attrs), v.fill_value)
    crs = None
    if source.crs:
        crs = parse_crs(source.crs)
    else:
        gm = ds[source.variables[0].name].attrs.get("grid_mapping") or ds[
            source.variables[0].name
        ].encoding.get("grid_mapping")
        if gm and gm in ds.variables:
            wkt = ds[gm].attrs.get("crs_wkt") or ds[gm].attrs.get("spatial_ref")
            crs = parse_crs(wkt) if wkt else None
        if crs is None and xn.lower() in ("lon", "longitude"):
            crs = parse_crs("EPSG:4326")
        if crs is None:
            raise SourceError(f"{what}: no CRS in {files[0]} and none configured (set `crs`)")
    try:
        grid = Grid.from_coords(ds[xn].values, ds[yn].values, crs, what=what)
    except GridError as exc:
        raise SourceError(str(exc)) from None
    has_time = tn is not None and tn in ds[source.variables[0].name].dims
    if has_time and not source.static:
        times = ds[tn].values.astype("datetime64[ns]")
    elif source.static:
        times = np.array(["NaT"], dtype="datetime64[ns]")
    else:
        raise SourceError(f"{what}: {files[0]} has no time dimension; set `static: true`")
    n = len(times)
    return _finish(source, index, "zarr", grid, files, [0] * n, list(range(n)), times, variables)


# -- reading ------------------------------------------------------------------------------------------


def _handle(kind: str, path: str, options: dict[str, Any]):
    key = (kind, path)
    handle = _HANDLES.get(key)
    if handle is not None:
        _HANDLES.move_to_end(key)
        return handle
    if kind == "netcdf":
        handle = _open_netcdf(local_file(path, options, path), path)
    elif kind == "geotiff":
        import rasterio

        handle = rasterio.open(local_file(path, options, path))
    else:
        handle = _open_zarr(path, options)
    _HANDLES[key] = handle
    while len(_HANDLES) > _MAX_HANDLES:
        (old_kind, _), old = _HANDLES.popitem(last=False)
        if old_kind != "zarr":
            old.close()
    return handle


def close_all() -> None:
    with _NC_LOCK, _TIF_LOCK:
        while _HANDLES:
            (kind, _), handle = _HANDLES.popitem()
            if kind != "zarr":
                handle.close()


def read(
    info: SourceInfo,
    name: str,
    file_index: int,
    steps: slice | None,
    window: tuple[slice, slice],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Decoded float32 values (n_steps, wy, wx) of one variable, one file, one pixel window
    (written into `out`, a float32 array of that shape, when given). A file that fails here (its
    header was readable at discovery, its data is not) is reported naming the source and file."""
    try:
        return _read(info, name, file_index, steps, window, out)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise SourceError(f"{info.what}: cannot read {info.files[file_index]}: {exc}") from None


def _read(info, name, file_index, steps, window, out):
    var = info.variables[name]
    path = info.files[file_index]
    ys, xs = window
    if info.kind == "netcdf":
        with _NC_LOCK:
            ds = _handle("netcdf", path, info.config.storage_options)
            v = ds.variables[var.config.name]
            # Contiguous variables: whole rows are one read each (HDF5 is ~2x slower on a column
            # window of a contiguous array); the columns are cut while decoding.
            cols = slice(None) if v.chunking() == "contiguous" else xs
            if v.ndim == 2:
                raw = v[ys, cols][None]
            elif steps is None:
                raw = v[0:1, ys, cols]
            else:
                raw = v[steps, ys, cols]
        raw = np.asarray(raw)
        return var.decode(raw if cols is xs else raw[..., xs], out)
    if info.kind == "geotiff":
        from rasterio.windows import Window

        with _TIF_LOCK:
            src = _handle("geotiff", path, info.config.storage_options)
            raw = src.read(
                var.config.band, window=Window(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start)
            )
        return var.decode(raw[None], out)
    with _NC_LOCK:
        ds = _handle("zarr", path, info.config.storage_options)
    da = ds[var.config.name]
    tn = next((d for d in da.dims if d.lower() in T_NAMES), None)
    sel = {da.dims[-2]: ys, da.dims[-1]: xs}
    if tn is not None:
        sel[tn] = steps if steps is not None else slice(0, 1)
    data = da.isel(sel).values.astype("float32")
    if tn is None:
        data = data[None]
    if var.config.fill_value is not None:
        data[data == var.config.fill_value] = np.nan
    if var.config.scale != 1.0 or var.config.offset != 0.0:
        data = data * np.float32(var.config.scale) + np.float32(var.config.offset)
    if out is not None:
        out[...] = data
        return out
    return data
