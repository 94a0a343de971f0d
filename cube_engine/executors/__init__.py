"""Running a cube plan: on local threads (`threads.py`) or on a Dask cluster (`distributed.py`).

An executor takes the frozen plan, the store to write into and a progress callback; it runs every
task of the plan and raises the first failure. It changes nothing in the plan and nothing in the
process beyond the threads or the client it starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future

from ..cubeplan import CubePlan

Progress = Callable[[int, int], None]


def execute(
    plan: CubePlan,
    store_path: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    ready: Future | None = None,
) -> None:
    """Run the plan's tasks on threads, or on the Dask cluster at `scheduler` when given. `ready`
    is the future of whatever must finish before the first chunk is written (the cube template):
    local reading starts at once and overlaps it."""
    if progress:
        progress(0, len(plan.tasks))
    if scheduler:
        from .distributed import run_distributed

        if ready is not None:
            ready.result()
        run_distributed(plan, store_path, scheduler, progress)
        return
    from .threads import run_threads

    run_threads(plan, store_path, workers or plan.config.workers or os.cpu_count() or 1, progress, ready)
    if ready is not None:
        ready.result()  # also when there was nothing to write


__all__ = ["Progress", "execute"]
