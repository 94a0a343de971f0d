"""The job: sources discovered and planned once, then one task per output chunk.

A `CubeJob` holds everything a task needs (grid, time axis, per-source plans and observations,
the store path); a `ChunkTask` is one output time-block x tile. `run_task` reads each source's
window once for that block, aggregates in time, resamples to the tile and writes the chunk of every
variable. The same task list runs on a local thread pool or on a Dask distributed cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .config import CubeConfig
from .constants import CHUNK_PRESETS
from .errors import ConfigError, GridError, SourceError, TimeAxisError
from .grid import Grid
from .plan import SourcePlan, plan_source
from .sources import SourceInfo, discover, read
from .timeaxis import aggregate, assign_periods, period_bounds, period_starts
from .writer import ChunkShape, OutputVariable, chunk_writer, output_array

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChunkTask:
    """One output chunk: periods [t0, t1) (None for static layers) x rows x cols."""

    t0: int | None
    t1: int | None
    rows: tuple[int, int]
    cols: tuple[int, int]


@dataclass
class CubeJob:
    config: CubeConfig
    grid: Grid
    times: pd.DatetimeIndex | None
    sources: list[SourceInfo]
    plans: list[SourcePlan]
    obs_period: list[np.ndarray]
    chunks: ChunkShape
    variables: list[OutputVariable]
    warnings: list[str] = field(default_factory=list)
    store_path: str = ""
    array_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    keep_before: int = 0  # append: periods below this index already exist in the cube
    compute_from: int = 0  # append: first period index to compute

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.config.output.storage_options

    def time_block_starts(self) -> list[int]:
        if self.times is None:
            return []
        first = (self.compute_from // self.chunks.time) * self.chunks.time
        return list(range(first, len(self.times), self.chunks.time))

    def tasks(self) -> list[ChunkTask]:
        """Time-block-major order, so the files of one block are read while they are cached."""
        tiles = [
            ((r, min(r + self.chunks.y, self.grid.height)), (c, min(c + self.chunks.x, self.grid.width)))
            for r in range(0, self.grid.height, self.chunks.y)
            for c in range(0, self.grid.width, self.chunks.x)
        ]
        out: list[ChunkTask] = []
        if any(s.static for s in self.sources) and self.compute_from == 0:
            out += [ChunkTask(None, None, rows, cols) for rows, cols in tiles]
        if any(not s.static for s in self.sources):
            for t0 in self.time_block_starts():
                t1 = min(t0 + self.chunks.time, len(self.times))
                out += [ChunkTask(t0, t1, rows, cols) for rows, cols in tiles]
        return out


def resolve_chunks(config: CubeConfig, grid: Grid, n_times: int | None) -> ChunkShape:
    preset = CHUNK_PRESETS[config.chunks.preset or "image"]
    t = config.chunks.time or preset["time"]
    y = config.chunks.y or preset["y"]
    x = config.chunks.x or preset["x"]
    return ChunkShape(min(t, n_times or 1), min(y, grid.height), min(x, grid.width))


def target_grid(config: CubeConfig) -> Grid:
    try:
        return Grid.from_bbox(config.grid.bbox, config.grid.resolution, config.grid.crs)
    except GridError as exc:
        raise ConfigError(str(exc), "grid.bbox") from None


def _variable_attrs(info: SourceInfo, name: str) -> dict[str, Any]:
    var = info.variables[name]
    cfg = var.config
    attrs = {
        "units": cfg.units or str(var.attrs.get("units", "1")),
        "long_name": cfg.long_name or str(var.attrs.get("long_name", name)),
        "source": info.config.name,
    }
    standard_name = cfg.standard_name or var.attrs.get("standard_name")
    if standard_name:
        attrs["standard_name"] = str(standard_name)
    return attrs


def prepare(config: CubeConfig, starts: pd.DatetimeIndex | None = None, period_offset: int = 0) -> CubeJob:
    """Discover and plan every source; raises on any bad input before anything is written.

    `starts` (append) overrides the configured period starts; their indices in the cube begin at
    `period_offset`."""
    grid = target_grid(config)
    if config.time is not None and any(not s.static for s in config.sources):
        starts = period_starts(config.time) if starts is None else starts
        bounds = period_bounds(starts, config.time.frequency)
    else:
        starts, bounds = None, None
    infos, plans, obs_period, warnings = [], [], [], []
    for index, source in enumerate(config.sources):
        info = discover(source, index)
        try:
            plan = plan_source(info.grid, grid)
        except GridError as exc:
            raise GridError(f"{info.what}: {exc}") from None
        if not plan.overlaps():
            b = ", ".join(f"{v:g}" for v in info.grid.bbox)
            t = ", ".join(f"{v:g}" for v in grid.bbox)
            raise SourceError(f"{info.what}: its extent ({b}) does not overlap the target grid ({t})")
        for v in source.variables:
            if plan.resolve_method(v.resampling or source.resampling) not in (
                "nearest",
                "bilinear",
                "block_mean",
                "mode",
            ):
                raise ConfigError("unknown resampling", f"sources.{index}.variables")
        if info.static or bounds is None:
            periods = np.zeros(len(info.obs_time), dtype="int64")
        else:
            periods = assign_periods(info.obs_time, bounds)
            periods[periods >= 0] += period_offset
            if not (periods >= 0).any():
                first, last = info.obs_time.min(), info.obs_time.max()
                warnings.append(
                    f"{info.what}: no observation between {starts[0].date()} and "
                    f"{starts[-1].date()} (it has {str(first)[:10]}..{str(last)[:10]})"
                )
        infos.append(info)
        plans.append(plan)
        obs_period.append(periods)
    timed = [i for i, s in enumerate(infos) if not s.static]
    if timed and not any((obs_period[i] >= 0).any() for i in timed):
        raise TimeAxisError(
            f"time: no observation of any source falls between {config.time.start} and {config.time.end}"
        )
    variables = [
        OutputVariable(v.output_name, info.static, _variable_attrs(info, v.output_name))
        for info in infos
        for v in info.config.variables
    ]
    n_times = len(starts) + period_offset if starts is not None else None
    times = None
    if starts is not None:
        times = starts if period_offset == 0 else None  # append fills the full axis in itself
    job = CubeJob(
        config,
        grid,
        times,
        infos,
        plans,
        obs_period,
        resolve_chunks(config, grid, n_times),
        variables,
        warnings,
    )
    return job


# -- one task ----------------------------------------------------------------------------------------


def _runs(steps: list[int]) -> list[slice]:
    """Contiguous runs of file-internal time steps, so each file is read with few hyperslabs."""
    runs, start, prev = [], steps[0], steps[0]
    for s in steps[1:]:
        if s != prev + 1:
            runs.append(slice(start, prev + 1))
            start = s
        prev = s
    runs.append(slice(start, prev + 1))
    return runs


def _read_observations(info: SourceInfo, name: str, picks: np.ndarray, window) -> np.ndarray:
    """Stack the windows of the picked observations (time-ordered) into (n, wy, wx)."""
    parts, order = [], []
    files = info.obs_file[picks]
    for f in dict.fromkeys(files.tolist()):
        sel = picks[files == f]
        steps = info.obs_step[sel].tolist()
        for run in _runs(sorted(steps)):
            parts.append(read(info, name, f, run, window))
        order.extend(sel[np.argsort(info.obs_step[sel], kind="stable")].tolist())
    data = np.concatenate(parts, axis=0)
    if order != sorted(order):
        data = data[np.argsort(np.asarray(order), kind="stable")]
    return data


def run_task(job: CubeJob, task: ChunkTask) -> int:
    """Compute and write one output chunk for every variable; returns the number written."""
    delay = float(os.environ.get("CUBE_ENGINE_TASK_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)  # fault-injection hook for the kill-mid-write tests
    rows, cols = slice(*task.rows), slice(*task.cols)
    written = 0
    for info, plan, periods in zip(job.sources, job.plans, job.obs_period, strict=True):
        if info.static != (task.t0 is None):
            continue
        if task.t0 is None:
            picks = np.array([0])
            nt = 1
        else:
            picks = np.flatnonzero((periods >= max(task.t0, job.compute_from)) & (periods < task.t1))
            nt = task.t1 - task.t0
            if picks.size == 0:
                continue
        for var in info.config.variables:
            name = var.output_name
            method = var.resampling or info.config.resampling
            window = plan.read_window(method, rows, cols)
            if window is None:
                continue
            data = _read_observations(info, name, picks, window)
            if task.t0 is not None:
                how = var.aggregation or job.config.time.aggregation
                data = aggregate(data, periods[picks] - task.t0, nt, how)
            out = plan.resample_window(data, method, rows, cols, window)
            if task.t0 is not None and job.keep_before > task.t0:
                # Append into a partial time chunk: keep the cube's existing steps bit for bit.
                array = output_array(job.store_path, job.storage_options, name, job.array_shapes.get(name))
                keep = job.keep_before - task.t0
                out[:keep] = array[task.t0 : job.keep_before, rows, cols]
            _write(job, name, task, rows, cols, out)
            written += 1
            del data, out
    return written


def _write(job: CubeJob, name: str, task: ChunkTask, rows: slice, cols: slice, out: np.ndarray) -> None:
    writer = chunk_writer(job.store_path, job.storage_options, name)
    if writer is not None:
        if task.t0 is None:
            writer.write((rows.start, cols.start), out[0])
        else:
            writer.write((task.t0, rows.start, cols.start), out)
        return
    array = output_array(job.store_path, job.storage_options, name, job.array_shapes.get(name))
    if task.t0 is None:
        array[rows, cols] = out[0]
    else:
        array[task.t0 : task.t1, rows, cols] = out


# -- execution ----------------------------------------------------------------------------------------


def execute(
    job: CubeJob,
    tasks: list[ChunkTask],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> None:
    """Run the tasks on threads, or on the Dask cluster at `scheduler` when given."""
    total = len(tasks)
    if progress:
        progress(0, total)
    if scheduler:
        _execute_distributed(job, tasks, scheduler, progress)
        return
    workers = workers or job.config.workers or os.cpu_count() or 1
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cube-task") as pool:
        pending = set()
        queue = iter(tasks)
        # Bounded in-flight tasks keep memory flat however long the cube is.
        for task in queue:
            pending.add(pool.submit(run_task, job, task))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in finished:
                    f.result()
                    done += 1
                if progress:
                    progress(done, total)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in finished:
                f.result()
                done += 1
            if progress:
                progress(done, total)


def _execute_distributed(job: CubeJob, tasks: list[ChunkTask], scheduler: str, progress: Progress | None):
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise SourceError(f"--scheduler: cannot connect to {scheduler}: {exc}") from None
    try:
        [job_future] = client.scatter([job], broadcast=True)
        futures = [client.submit(run_task, job_future, t, pure=False) for t in tasks]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            if progress:
                progress(done, len(tasks))
    finally:
        client.close()
