"""GeoTIFF sources: one file per time step (the time in the file name) or one static layer,
read through rasterio; bands are variables."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from ..config import SourceConfig
from ..errors import SourceError
from ..grid import Grid, parse_crs
from ..storage import local_file
from .base import SourceInfo, SourceReader, VariableInfo, Window, source_info
from .handles import LIBRARY_LOCK

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


def _variables(src, source: SourceConfig, index: int, file: str, what: str) -> dict[str, VariableInfo]:
    variables = {}
    for vi, v in enumerate(source.variables):
        if v.band > src.count:
            raise SourceError(
                f"{what}: band {v.band} > {src.count} bands in {file} (sources.{index}.variables.{vi}.band)"
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
    return variables


class GeoTIFFReader(SourceReader):
    """`format: geotiff` (.tif, .tiff)."""

    format: ClassVar[str] = "geotiff"

    def claims(self, path: str) -> bool:
        return path.lower().rstrip("/").endswith((".tif", ".tiff"))

    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
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
                with LIBRARY_LOCK, rasterio.open(path) as src:
                    crs = (
                        parse_crs(source.crs)
                        if source.crs
                        else (parse_crs(src.crs.to_wkt()) if src.crs else None)
                    )
                    if crs is None:
                        raise SourceError(
                            f"{what}: {files[fi]} has no CRS and none is configured (set `crs`)"
                        )
                    g = Grid(src.width, src.height, src.transform, crs)
                    if grid is None:
                        grid = g
                        variables = _variables(src, source, index, files[fi], what)
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
        n = len(files)
        return source_info(source, index, self.format, grid, files, list(range(n)), [0] * n, times, variables)

    def open(self, path: str, options: dict[str, Any]) -> Any:
        import rasterio

        return rasterio.open(local_file(path, options, path))

    def read_raw(self, opened: Any, variable: VariableInfo, steps: slice, window: Window) -> np.ndarray:
        from rasterio.windows import Window as RasterWindow

        ys, xs = window  # one step per file: `steps` is always its first
        return opened.read(
            variable.config.band,
            window=RasterWindow(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start),
        )


READER = GeoTIFFReader()
