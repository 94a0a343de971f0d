"""Open source handles, shared by every reader and thread of the process.

HDF5 (netCDF4) and GDAL (rasterio) are not thread-safe, so their calls are serialised by one
library lock, which also guards this cache; a time block's files are opened once per process and
the least recently used handle is closed when more than `CUBE_ENGINE_MAX_OPEN_FILES` are open.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..settings import process_settings

if TYPE_CHECKING:
    from .base import SourceReader

LIBRARY_LOCK = threading.RLock()
_HANDLES: OrderedDict[tuple[str, str], tuple[SourceReader, Any]] = OrderedDict()


def handle(reader: SourceReader, path: str, options: dict[str, Any]) -> Any:
    """The open handle of `path` for `reader` (opened on first use). The caller holds LIBRARY_LOCK."""
    key = (reader.format, path)
    found = _HANDLES.get(key)
    if found is not None:
        _HANDLES.move_to_end(key)
        return found[1]
    opened = reader.open(path, options)
    _HANDLES[key] = (reader, opened)
    while len(_HANDLES) > process_settings().max_open_files:
        _, (old_reader, old) = _HANDLES.popitem(last=False)
        old_reader.close(old)
    return opened


def close_all() -> None:
    """Close every cached handle (at the end of a run: files may change before the next one)."""
    with LIBRARY_LOCK:
        while _HANDLES:
            _, (reader, opened) = _HANDLES.popitem()
            reader.close(opened)
