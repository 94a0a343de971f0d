"""What a load reports: its outcome (`LoadReport`), its progress (`ProgressHook`) and its timings
(`Phases`).

Kept apart from the loading modules, which bring xarray and Zarr: the CLI and the API name these
types without importing them.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field

ProgressHook = Callable[[str, int, int], None]
"""Called as hook(phase, done, total) with phase in {"cells", "observations", "indexes"}."""


@dataclass
class LoadReport:
    """What a load did; the CLI prints it and the bench reads the timings."""

    cube_id: str
    mode: str  # "create" (first load), "replace" (whole cube again) or "append" (a time range)
    n_cells: int
    n_observations: int
    n_times: int
    variables: list[str]
    seconds: float
    static: list[str] = field(default_factory=list)  # static layers on the cells after the load
    skipped_static: list[str] = field(default_factory=list)  # static layers of a type SQL cannot hold
    cells_kept: bool = False  # a replace found the cells unchanged (same digest) and kept their table
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase, in order

    @property
    def rows_per_second(self) -> float:
        return self.n_observations / self.seconds if self.seconds else float("inf")


class Phases:
    """Wall-clock seconds per named phase of a load (a phase timed twice adds up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = clock.perf_counter()

    def mark(self, name: str) -> None:
        """The time since the previous mark belongs to `name`."""
        now = clock.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
