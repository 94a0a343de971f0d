"""Sources as the engine sees them: discover one (through its format's reader), read a window of
one file, close what was opened. The formats themselves live in `readers/`, one module each."""

from __future__ import annotations

import numpy as np

from .config import SourceConfig
from .errors import SourceError
from .readers import SourceInfo, VariableInfo, detect_format, reader_for
from .readers.handles import close_all
from .storage import expand


def discover(source: SourceConfig, index: int) -> SourceInfo:
    """List the source's files and validate them with its format's reader."""
    what = f"source {source.name!r} (sources.{index}.paths)"
    files: list[str] = []
    for pattern in source.paths:
        files.extend(expand(pattern, source.storage_options, what))
    kind = source.format if source.format != "auto" else detect_format(files[0])
    return reader_for(kind).discover(source, index, files)


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
        return reader_for(info.kind).read(info, info.variables[name], file_index, steps, window, out)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise SourceError(f"{info.what}: cannot read {info.files[file_index]}: {exc}") from None


__all__ = ["SourceInfo", "VariableInfo", "close_all", "detect_format", "discover", "read"]
