"""Zarr sources: one store (local or remote) holding every time step, opened with xarray (which
decodes CF packing and times itself); reads need no library lock."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from ..config import SourceConfig
from ..errors import GridError, SourceError
from ..grid import Grid, parse_crs
from ..storage import is_remote, normalise_options
from .base import T_NAMES, SourceInfo, SourceReader, VariableInfo, Window, axis_names, source_info


def _open(path: str, options: dict[str, Any]):
    import xarray as xr

    kwargs = {"storage_options": normalise_options(path, options)} if is_remote(path) else {}
    return xr.open_zarr(path, consolidated=None, chunks=None, **kwargs)


def _crs(ds, source: SourceConfig, xn: str, file: str, what: str):
    if source.crs:
        return parse_crs(source.crs)
    first = ds[source.variables[0].name]
    crs = None
    gm = first.attrs.get("grid_mapping") or first.encoding.get("grid_mapping")
    if gm and gm in ds.variables:
        wkt = ds[gm].attrs.get("crs_wkt") or ds[gm].attrs.get("spatial_ref")
        crs = parse_crs(wkt) if wkt else None
    if crs is None and xn.lower() in ("lon", "longitude"):
        crs = parse_crs("EPSG:4326")
    if crs is None:
        raise SourceError(f"{what}: no CRS in {file} and none configured (set `crs`)")
    return crs


class ZarrReader(SourceReader):
    """`format: zarr` (a .zarr path, or any local folder)."""

    format: ClassVar[str] = "zarr"
    thread_safe: ClassVar[bool] = True

    def claims(self, path: str) -> bool:
        return path.lower().rstrip("/").endswith(".zarr") or (not is_remote(path) and os.path.isdir(path))

    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
        what = f"source {source.name!r} (sources.{index})"
        if len(files) != 1:
            raise SourceError(f"{what}: a Zarr source is one store, got {len(files)} paths")
        try:
            ds = _open(files[0], source.storage_options)
        except Exception as exc:
            raise SourceError(f"{what}: cannot open Zarr {files[0]}: {exc}") from None
        names = list(ds.variables)
        xn, yn, tn = axis_names(names, what, files[0])
        variables = {}
        for vi, v in enumerate(source.variables):
            if v.name not in ds.variables:
                raise SourceError(
                    f"{what}: variable {v.name!r} not in {files[0]} (sources.{index}.variables.{vi}.name)"
                )
            var = ds[v.name]
            variables[v.output_name] = VariableInfo(v, tuple(var.dims), dict(var.attrs), v.fill_value)
        crs = _crs(ds, source, xn, files[0], what)
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
        return source_info(source, index, self.format, grid, files, [0] * n, list(range(n)), times, variables)

    def open(self, path: str, options: dict[str, Any]) -> Any:
        return _open(path, options)

    def close(self, opened: Any) -> None:
        """Nothing to release: xarray's lazy store holds no file open between reads."""

    def read_raw(self, opened: Any, variable: VariableInfo, steps: slice, window: Window) -> np.ndarray:
        """xarray has applied the store's own CF decoding (this source's `VariableInfo` carries no
        packing): only the config's overrides are left to `decode`, on these float32 values."""
        da = opened[variable.config.name]
        tn = next((d for d in da.dims if d.lower() in T_NAMES), None)
        sel = {da.dims[-2]: window[0], da.dims[-1]: window[1], **({} if tn is None else {tn: steps})}
        return da.isel(sel).values.astype("float32")


READER = ZarrReader()
