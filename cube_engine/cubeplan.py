"""The cube plan: everything a run computes, as one frozen value built once before anything is
written (see `planning.build_plan`), then handed to an executor with the store to write into.

A `ChunkTask` is one variable of one source over one output time block and a band of whole output
tiles; the plan holds the ordered tuple of them. The plan is immutable so that threads and Dask
workers share it without coordination: nothing in it changes once it is built (its source plans
memoise per-tile operators internally, behind a lock, which is not part of its value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import CubeConfig
from .grid import Grid
from .plan import SourcePlan
from .readers import SourceInfo
from .settings import EngineSettings
from .writer import ChunkShape, OutputVariable


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: periods [t0, t1) (None for static layers) x a band of whole output tiles
    (`rows`, `cols`: pixel ranges on chunk boundaries) x variable `variable` of source `source`."""

    t0: int | None
    t1: int | None
    rows: tuple[int, int]
    cols: tuple[int, int]
    source: int = 0
    variable: str = ""


@dataclass(frozen=True)
class AppendTarget:
    """What an append adds to: the published cube at `cube_path` with `existing` time steps, whose
    kept steps of a partial last time block are read from it, and its time-dependent arrays
    (`timed`), which grow to the plan's whole time axis (see `CubePlan.array_shape`)."""

    cube_path: str
    existing: int
    timed: frozenset[str]


@dataclass(frozen=True, eq=False)
class CubePlan:
    """The frozen plan of one gen or append run."""

    config: CubeConfig
    grid: Grid
    times: pd.DatetimeIndex | None  # the cube's whole time axis (for append: old and new steps)
    sources: tuple[SourceInfo, ...]
    source_plans: tuple[SourcePlan, ...]
    obs_period: tuple[np.ndarray, ...]  # period index of each observation of each source (-1: none)
    chunks: ChunkShape
    variables: tuple[OutputVariable, ...]
    tasks: tuple[ChunkTask, ...]
    settings: EngineSettings
    warnings: tuple[str, ...] = ()
    append: AppendTarget | None = None

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.config.output.storage_options

    @property
    def compute_from(self) -> int:
        """The first period a run computes (an append keeps the cube's existing ones)."""
        return self.append.existing if self.append is not None else 0

    def array_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape chunks of `name` are written against, when it differs from the stored one: in
        an append, a time-dependent array's shape once the new steps are in (its chunks are written
        beyond the published shape before the commit point); None otherwise."""
        if self.append is None or name not in self.append.timed:
            return None
        return (len(self.times), *self.grid.shape)
