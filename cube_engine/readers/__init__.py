"""Source formats, one module each: a module of this package defines `READER` (a `SourceReader`)
for the format named by `READER.format`; `READERS` below lists them and `constants.SourceFormat`
the names a config may give (a test keeps the two equal). Nothing else switches on the format.

`format: auto` takes the first reader in `READERS` that claims the source's first path, and NetCDF
when none does.
"""

from __future__ import annotations

from ..errors import SourceError
from . import geotiff, netcdf, zarr
from .base import SourceInfo, SourceReader, VariableInfo

READERS: dict[str, SourceReader] = {r.format: r for r in (geotiff.READER, netcdf.READER, zarr.READER)}
DEFAULT_FORMAT = "netcdf"


def detect_format(path: str) -> str:
    """The format of `path` for `format: auto`."""
    return next((name for name, reader in READERS.items() if reader.claims(path)), DEFAULT_FORMAT)


def reader_for(kind: str) -> SourceReader:
    try:
        return READERS[kind]
    except KeyError:
        raise SourceError(f"unknown source format {kind!r} (known: {', '.join(READERS)})") from None


__all__ = ["READERS", "SourceInfo", "SourceReader", "VariableInfo", "detect_format", "reader_for"]
