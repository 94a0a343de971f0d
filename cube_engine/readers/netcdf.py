"""NetCDF (and HDF5) sources: CF coordinates, times and packing, read through netCDF4.

Each file is a set of time steps on one grid; every file of a source must share the first one's
grid. The plan keeps the files' own URIs: on a Dask cluster every worker fetches remote files into
its own cache. netCDF-C gives every chunked variable a 64 MiB chunk cache; with dozens of files
open that is most of the process's memory, so it is cut to `CUBE_ENGINE_NC_CHUNK_CACHE_MB`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..config import SourceConfig
from ..errors import GridError, SourceError
from ..grid import Grid, parse_crs
from ..settings import process_settings
from ..storage import local_file
from .base import SourceInfo, SourceReader, VariableInfo, Window, axis_names, source_info
from .handles import LIBRARY_LOCK


def _crs(ds, var, source: SourceConfig, is_geo: bool, what: str):
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


def _open(path: str, what: str):
    import netCDF4

    cache = int(process_settings().nc_chunk_cache_mb * 2**20)
    try:
        with LIBRARY_LOCK:
            ds = netCDF4.Dataset(path, "r")
            ds.set_auto_maskandscale(False)
            for var in ds.variables.values():
                if var.ndim >= 2 and var.chunking() != "contiguous":
                    var.set_var_chunk_cache(size=cache)
        return ds
    except OSError as exc:
        raise SourceError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def _variables(ds, source: SourceConfig, index: int, names, xn: str, yn: str, file: str, what: str):
    variables: dict[str, VariableInfo] = {}
    for vi, v in enumerate(source.variables):
        if v.name not in ds.variables:
            raise SourceError(
                f"{what}: variable {v.name!r} not in {file} (has: {', '.join(names)})"
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
            raise SourceError(f"{what}: variable {v.name!r} has dims {dims}, expected (..., {yn}, {xn})")
        variables[v.output_name] = VariableInfo(
            v,
            dims,
            attrs,
            fill,
            float(attrs.get("scale_factor", 1.0)),
            float(attrs.get("add_offset", 0.0)),
        )
    return variables


class NetCDFReader(SourceReader):
    """`format: netcdf` (.nc, .nc4, .netcdf, .h5, .cdf; also the fallback of `auto`)."""

    format: ClassVar[str] = "netcdf"

    def claims(self, path: str) -> bool:
        return path.lower().rstrip("/").endswith((".nc", ".nc4", ".netcdf", ".h5", ".cdf"))

    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
        what = f"source {source.name!r} (sources.{index})"
        local = [local_file(f, source.storage_options, what) for f in files]
        grid = None
        obs_file, obs_step, obs_time = [], [], []
        variables: dict[str, VariableInfo] = {}
        for fi, path in enumerate(local):
            ds = _open(path, what)
            try:
                with LIBRARY_LOCK:
                    names = list(ds.variables)
                    xn, yn, tn = axis_names(names, what, files[fi])
                    x, y = ds.variables[xn][:], ds.variables[yn][:]
                    if fi == 0:
                        variables = _variables(ds, source, index, names, xn, yn, files[fi], what)
                        is_geo = xn.lower() in ("lon", "longitude")
                        crs = _crs(ds, ds.variables[source.variables[0].name], source, is_geo, what)
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
                    times = self._times(ds, source, tn, files[fi], what)
            except (IndexError, KeyError, ValueError, RuntimeError) as exc:
                raise SourceError(f"{what}: cannot read {files[fi]}: {exc}") from None
            finally:
                with LIBRARY_LOCK:
                    ds.close()
            if source.static:
                times = times[:1]
            obs_file.extend([fi] * len(times))
            obs_step.extend(range(len(times)))
            obs_time.extend(times)
        return source_info(source, index, self.format, grid, files, obs_file, obs_step, obs_time, variables)

    @staticmethod
    def _times(ds, source: SourceConfig, tn: str | None, file: str, what: str) -> np.ndarray:
        if tn is not None and tn in ds.variables[source.variables[0].name].dimensions:
            tv = ds.variables[tn]
            units = tv.getncattr("units") if "units" in tv.ncattrs() else None
            if units is None:
                raise SourceError(f"{what}: time variable without units in {file}")
            cal = tv.getncattr("calendar") if "calendar" in tv.ncattrs() else "standard"
            return _decode_times(tv[:], units, cal)
        if not source.static:
            raise SourceError(f"{what}: {file} has no time dimension; set `static: true`")
        return np.array(["NaT"], dtype="datetime64[ns]")

    def open(self, path: str, options: dict[str, Any]) -> Any:
        return _open(local_file(path, options, path), path)

    def read_raw(self, opened: Any, variable: VariableInfo, steps: slice, window: Window) -> np.ndarray:
        ys, xs = window
        v = opened.variables[variable.config.name]
        # Contiguous variables: whole rows are one read each (HDF5 is ~2x slower on a column
        # window of a contiguous array); the columns are cut after, a view that decoding copies.
        cols = slice(None) if v.chunking() == "contiguous" else xs
        raw = np.asarray(v[ys, cols] if v.ndim == 2 else v[steps, ys, cols])
        return raw if cols is xs else raw[..., xs]


READER = NetCDFReader()
