"""Source formats, one module each: a module of this package that defines `READER` (a
`SourceReader`) adds the format named by `READER.format` (and `constants.SourceFormat` lists the
names a config may give). Nothing else switches on the format.

`format: auto` takes the first reader (by module name) that claims the source's first path, and
NetCDF when none does.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import SourceError
from .base import SourceInfo, SourceReader, VariableInfo

_INFRASTRUCTURE = {"base", "handles"}


def _load() -> dict[str, SourceReader]:
    found: dict[str, SourceReader] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module in _INFRASTRUCTURE:
            continue
        reader = getattr(importlib.import_module(f"{__name__}.{module}"), "READER", None)
        if reader is not None:
            found[reader.format] = reader
    return found


READERS: dict[str, SourceReader] = _load()
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
