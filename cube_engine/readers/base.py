"""What every source format shares: the discovered source, its variables' decoding, and the
`SourceReader` base a format derives from (discover, open a handle, read a window's raw values).

Discovery runs once, before anything is written: it lists the files, reads their coordinates and
times, checks that every configured variable exists, and derives the source `Grid`. Reading is then
a pure function of (file, variable, time indices, pixel window): only that window is decoded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..config import SourceConfig, VariableConfig
from ..errors import SourceError
from ..grid import Grid
from .handles import LIBRARY_LOCK, handle

X_NAMES = ("lon", "longitude", "x")
Y_NAMES = ("lat", "latitude", "y")
T_NAMES = ("time", "t")

Window = tuple[slice, slice]


@dataclass(frozen=True)
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


@dataclass(frozen=True, eq=False)
class SourceInfo:
    """A discovered source: its grid, files, observations (time-sorted) and variables. `kind`
    names the reader that discovered it and reads it."""

    config: SourceConfig
    index: int
    kind: str
    grid: Grid
    files: list[str]
    obs_file: np.ndarray  # file index of each observation
    obs_step: np.ndarray  # time index inside that file
    obs_time: np.ndarray  # datetime64[ns]
    variables: dict[str, VariableInfo]

    @property
    def what(self) -> str:
        return f"source {self.config.name!r} (sources.{self.index})"

    @property
    def static(self) -> bool:
        return self.config.static


class SourceReader(ABC):
    """One source format: find and validate its files, open a handle on one, read a window.

    Readers are stateless: open handles live in the process's handle cache (`handles.handle`),
    which calls `open` on first use and `close` when it drops one. A format implements the calls
    below that name it; `read` is shared, so every format finds its handle, keeps the library lock
    and decodes the same way, and a new format writes only what differs: its raw read."""

    format: ClassVar[str]
    thread_safe: ClassVar[bool] = False
    """Whether the format's library may be called from several threads at once; when not,
    `read_raw` runs holding `handles.LIBRARY_LOCK` (decoding still runs outside it, in parallel)."""

    @abstractmethod
    def claims(self, path: str) -> bool:
        """Whether `path` looks like this format (for `format: auto`, from the first path)."""

    @abstractmethod
    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
        """Validate the files and variables; a SourceError naming the field or file at fault."""

    @abstractmethod
    def open(self, path: str, options: dict[str, Any]) -> Any:
        """A handle on one file or store (`path` as discovered, possibly remote)."""

    def close(self, opened: Any) -> None:
        """Release a handle the cache drops."""
        opened.close()

    @abstractmethod
    def read_raw(self, opened: Any, variable: VariableInfo, steps: slice, window: Window) -> np.ndarray:
        """The values of `variable` in the open file `opened` for file-internal time `steps` and
        pixel `window`, before `VariableInfo.decode`: (n_steps, wy, wx), or (wy, wx) for a
        variable without a time axis."""

    def read(
        self,
        info: SourceInfo,
        variable: VariableInfo,
        file_index: int,
        steps: slice | None,
        window: Window,
        out: np.ndarray | None,
    ) -> np.ndarray:
        """Decoded float32 (n_steps, wy, wx) of `variable` in one file's pixel `window` (written
        into `out`, a float32 array of that shape, when given); `steps` None: the first step."""
        steps = slice(0, 1) if steps is None else steps
        # The lock guards the handle cache, and the read itself unless the library is thread-safe;
        # decoding runs outside it.
        path, options = info.files[file_index], info.config.storage_options
        if self.thread_safe:
            with LIBRARY_LOCK:
                opened = handle(self, path, options)
            raw = self.read_raw(opened, variable, steps, window)
        else:
            with LIBRARY_LOCK:
                raw = self.read_raw(handle(self, path, options), variable, steps, window)
        return variable.decode(raw[None] if raw.ndim == 2 else raw, out)


def find_name(names, candidates) -> str | None:
    """The first of `candidates` among `names`, matched case-insensitively (the file's spelling)."""
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def axis_names(names, what: str, file: str) -> tuple[str, str, str | None]:
    """The file's spelling of its x, y and (if it has one) time coordinates; a SourceError naming
    `what` and `file` when x or y is missing."""
    xn, yn, tn = (find_name(names, candidates) for candidates in (X_NAMES, Y_NAMES, T_NAMES))
    if xn is None or yn is None:
        raise SourceError(f"{what}: no lon/lat or x/y coordinates in {file}")
    return xn, yn, tn


def source_info(source, index, kind, grid, files, obs_file, obs_step, obs_time, variables) -> SourceInfo:
    """The discovered source, its observations sorted by time (static layers keep file order)."""
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
