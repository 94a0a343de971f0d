"""The Dask path: the plan is scattered to every worker once, and each task runs there whole
(read, resample, write); the workers write straight into the store, so nothing but the task
counts comes back."""

from __future__ import annotations

from .. import bands
from ..cubeplan import CubePlan
from ..errors import SourceError
from . import Progress


def run_distributed(plan: CubePlan, store_path: str, scheduler: str, progress: Progress | None) -> None:
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise SourceError(f"--scheduler: cannot connect to {scheduler}: {exc}") from None
    try:
        [plan_future] = client.scatter([plan], broadcast=True)
        futures = [client.submit(bands.run_task, plan_future, store_path, t, pure=False) for t in plan.tasks]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            if progress:
                progress(done, len(plan.tasks))
    finally:
        client.close()
