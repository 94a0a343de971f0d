"""What every source format shares: the discovered source, its variables' decoding, and the
`SourceReader` protocol a format implements (discover, open a handle, read a window).

Discovery runs once, before anything is written: it lists the files, reads their coordinates and
times, checks that every configured variable exists, and derives the source `Grid`. Reading is then
a pure function of (file, variable, time indices, pixel window): only that window is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from ..config import SourceConfig, VariableConfig
from ..grid import Grid

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


class SourceReader(Protocol):
    """One source format: find and validate its files, open a handle on one, read a window.

    Readers are stateless: open handles live in the process's handle cache (`handles.handle`),
    which calls `open` on first use and `close` when it drops one. A reader whose library is not
    thread-safe holds `handles.LIBRARY_LOCK` while it calls it (and only then: decoding runs
    outside the lock, in parallel)."""

    format: ClassVar[str]

    def claims(self, path: str) -> bool:
        """Whether `path` looks like this format (for `format: auto`, from the first path)."""

    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
        """Validate the files and variables; a SourceError naming the field or file at fault."""

    def open(self, path: str, options: dict[str, Any]) -> Any:
        """A handle on one file or store (`path` as discovered, possibly remote)."""

    def close(self, handle: Any) -> None:
        """Release a handle the cache drops."""

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


def find_name(names, candidates) -> str | None:
    """The first of `candidates` among `names`, matched case-insensitively (the file's spelling)."""
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


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
