"""The job: sources discovered and planned once, then a list of tasks over output chunks.

A `CubeJob` holds everything a task needs (grid, time axis, per-source plans and observations,
the store path). A `ChunkTask` is one variable of one source over one output time block and a band
of whole output tiles: `run_task` reads the band's source window of every observation in the block
once (one hyperslab per file), aggregates it in time once, then resamples and writes each output
chunk of the band. Bands are as large as a memory budget allows (`CUBE_ENGINE_TASK_MB`, default 64
MiB of decoded input per task), so each input file window is decoded once per time block however
many tiles need it, and memory stays bounded however long or wide the cube is. The same task list
runs on a local thread pool or on a Dask distributed cluster.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .config import CubeConfig
from .constants import CHUNK_PRESETS
from .errors import ConfigError, GridError, SourceError, TimeAxisError
from .grid import Grid
from .memory import reuse_heap_memory
from .plan import SourcePlan, plan_source
from .sources import SourceInfo, read
from .steps import discover_all, gen_starts
from .timeaxis import aggregate, assign_periods, period_bounds
from .writer import ChunkShape, OutputVariable, chunk_writer, output_array

Progress = Callable[[int, int], None]


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


def _task_budget() -> int:
    return int(float(os.environ.get("CUBE_ENGINE_TASK_MB", "64")) * 2**20)


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
    read_path: str = ""  # append: the published cube, whose kept steps are read (store_path: staging)

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.config.output.storage_options

    def time_block_starts(self) -> list[int]:
        if self.times is None:
            return []
        first = (self.compute_from // self.chunks.time) * self.chunks.time
        return list(range(first, len(self.times), self.chunks.time))

    def tile_edges(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Output chunk row ranges and column ranges."""
        h, w, cy, cx = self.grid.height, self.grid.width, self.chunks.y, self.chunks.x
        return (
            [(r, min(r + cy, h)) for r in range(0, h, cy)],
            [(c, min(c + cx, w)) for c in range(0, w, cx)],
        )

    def bands(self, index: int, method: str, n_obs: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Bands of whole tiles whose source window of `n_obs` observations fits the task budget:
        the fewest bands of k tile rows x m tile columns (largest k*m first), at least one tile."""
        plan = self.plans[index]
        row_tiles, col_tiles = self.tile_edges()
        budget = _task_budget()

        def split(tiles, n):
            return [(tiles[i][0], tiles[min(i + n, len(tiles)) - 1][1]) for i in range(0, len(tiles), n)]

        def fits(k: int, m: int) -> bool:
            for rows in split(row_tiles, k):
                for cols in split(col_tiles, m):
                    window = plan.read_window(method, slice(*rows), slice(*cols))
                    if window is None:
                        continue
                    size = (window[0].stop - window[0].start) * (window[1].stop - window[1].start)
                    if size * max(n_obs, 1) * 4 > budget:
                        return False
            return True

        ny, nx = len(row_tiles), len(col_tiles)
        candidates = [(k, nx) for k in range(ny, 0, -1)] + [(1, m) for m in range(nx - 1, 0, -1)]
        k, m = next((km for km in candidates if fits(*km)), (1, 1))
        return [(rows, cols) for rows in split(row_tiles, k) for cols in split(col_tiles, m)]

    def tasks(self) -> list[ChunkTask]:
        """Time-block-major order, so the files of one block are read while they are cached."""
        out: list[ChunkTask] = []
        # Round-robin over sources (first variable of each source, then the second...), so tasks
        # running side by side usually read different products: their decode costs differ, and
        # two decode-heavy tasks would wait on each other for the (HDF5) library lock.
        per_source = [
            [
                (i, v.output_name, self.plans[i].resolve_method(v.resampling or info.config.resampling))
                for v in info.config.variables
            ]
            for i, info in enumerate(self.sources)
        ]
        units = [u for row in itertools.zip_longest(*per_source) for u in row if u is not None]
        if self.compute_from == 0:
            for i, name, method in units:
                if self.sources[i].static:
                    for rows, cols in self.bands(i, method, 1):
                        out.append(ChunkTask(None, None, rows, cols, i, name))
        starts = self.time_block_starts()
        bands = {}
        for t0 in starts:
            t1 = min(t0 + self.chunks.time, len(self.times))
            for i, name, method in units:
                if self.sources[i].static:
                    continue
                periods = self.obs_period[i]
                n_obs = int(((periods >= max(t0, self.compute_from)) & (periods < t1)).sum())
                if n_obs == 0:
                    continue
                if (i, method) not in bands:
                    busiest = max(
                        int(((periods >= s) & (periods < s + self.chunks.time)).sum()) for s in starts
                    )
                    bands[i, method] = self.bands(i, method, busiest)
                for rows, cols in bands[i, method]:
                    out.append(ChunkTask(t0, t1, rows, cols, i, name))
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


def prepare(
    config: CubeConfig,
    starts: pd.DatetimeIndex | None = None,
    period_offset: int = 0,
    discovered: list[SourceInfo] | None = None,
) -> CubeJob:
    """Discover and plan every source; raises on any bad input before anything is written.

    `starts` (append) overrides the configured period starts; their indices in the cube begin at
    `period_offset`. `discovered`: the sources, when the caller has discovered them already."""
    grid = target_grid(config)
    discovered = discover_all(config) if discovered is None else discovered
    if config.time is not None and any(not s.static for s in config.sources):
        starts = gen_starts(config.time, discovered) if starts is None else starts
        bounds = period_bounds(starts, config.time.frequency)
    else:
        starts, bounds = None, None
    infos, plans, obs_period, warnings = [], [], [], []
    for index, source in enumerate(config.sources):
        info = discovered[index]
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
            f"time: no observation of any source falls between {config.time.start} and "
            f"{config.time.end or starts[-1].date()}"
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
    """Stack the windows of the picked observations (time-ordered) into (n, wy, wx) float32,
    reading each file with as few hyperslabs as possible straight into the result."""
    shape = (picks.size, window[0].stop - window[0].start, window[1].stop - window[1].start)
    data = np.empty(shape, dtype="float32")
    files = info.obs_file[picks]
    # Position of each observation in `picks` (time order) by (file, step).
    where = {(int(f), int(s)): k for k, (f, s) in enumerate(zip(files, info.obs_step[picks], strict=True))}
    for f in dict.fromkeys(files.tolist()):
        steps = sorted(int(s) for s in info.obs_step[picks[files == f]])
        for run in _runs(steps):
            slots = [where[f, s] for s in range(run.start, run.stop)]
            if slots == list(range(slots[0], slots[0] + len(slots))):
                read(info, name, f, run, window, out=data[slots[0] : slots[0] + len(slots)])
            else:
                data[slots] = read(info, name, f, run, window)
    return data


def _sub_window(window, outer) -> tuple[slice, slice]:
    """`window` (absolute source indices) relative to `outer`, which contains it."""
    return tuple(slice(w.start - o.start, w.stop - o.start) for w, o in zip(window, outer, strict=True))


@dataclass(eq=False)
class Band:
    """A task's input, read and aggregated in time: `data` covers the source window `window`."""

    task: ChunkTask
    name: str
    method: str
    window: tuple[slice, slice]
    data: np.ndarray | None
    tiles: list[tuple[slice, slice, tuple[slice, slice]]]  # (rows, cols, source window) per chunk


def read_band(job: CubeJob, task: ChunkTask) -> Band | None:
    """Read the task's source window of every observation in its time block once (one hyperslab per
    file) and aggregate it in time; None when no output chunk of the task gets data."""
    delay = float(os.environ.get("CUBE_ENGINE_TASK_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)  # fault-injection hook for the kill-mid-write tests
    info, plan, periods = job.sources[task.source], job.plans[task.source], job.obs_period[task.source]
    var = info.variables[task.variable].config
    method = plan.resolve_method(var.resampling or info.config.resampling)
    window = plan.read_window(method, slice(*task.rows), slice(*task.cols))
    if window is None:
        return None
    if task.t0 is None:
        picks = np.array([0])
    else:
        picks = np.flatnonzero((periods >= max(task.t0, job.compute_from)) & (periods < task.t1))
        if picks.size == 0:
            return None
    tiles = []
    cy, cx = job.chunks.y, job.chunks.x
    for r0 in range(task.rows[0], task.rows[1], cy):
        for c0 in range(task.cols[0], task.cols[1], cx):
            rows, cols = slice(r0, min(r0 + cy, task.rows[1])), slice(c0, min(c0 + cx, task.cols[1]))
            tile_window = plan.read_window(method, rows, cols)
            if tile_window is not None:
                tiles.append((rows, cols, tile_window))
    if not tiles:
        return None
    data = _read_observations(info, task.variable, picks, window)
    if task.t0 is not None:
        how = var.aggregation or job.config.time.aggregation
        data = aggregate(data, periods[picks] - task.t0, task.t1 - task.t0, how)
    return Band(task, var.output_name, method, window, data, tiles)


def write_tile(job: CubeJob, band: Band, tile: tuple[slice, slice, tuple[slice, slice]]) -> None:
    """Resample one output chunk from the band's data and write it."""
    task, name = band.task, band.name
    rows, cols, window = tile
    ys, xs = _sub_window(window, band.window)
    plan = job.plans[task.source]
    out = plan.resample_window(band.data[..., ys, xs], band.method, rows, cols, window)
    if task.t0 is not None and job.keep_before > task.t0:
        # Append into a partial time chunk: keep the cube's existing steps bit for bit.
        array = output_array(job.read_path or job.store_path, job.storage_options, name)
        keep = job.keep_before - task.t0
        out[:keep] = array[task.t0 : job.keep_before, rows, cols]
    _write(job, name, task, rows, cols, out)


def run_task(job: CubeJob, task: ChunkTask) -> int:
    """Compute and write every output chunk of one task; returns the number of chunks written."""
    band = read_band(job, task)
    if band is None:
        return 0
    for tile in band.tiles:
        write_tile(job, band, tile)
    return len(band.tiles)


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
    ready: Future | None = None,
) -> None:
    """Run the tasks on threads, or on the Dask cluster at `scheduler` when given. `ready` (local
    threads) is the future of whatever must finish before the first chunk is written — the cube
    template: reading starts at once and overlaps it."""
    total = len(tasks)
    if progress:
        progress(0, total)
    if scheduler:
        if ready is not None:
            ready.result()
        _execute_distributed(job, tasks, scheduler, progress)
        return
    workers = workers or job.config.workers or os.cpu_count() or 1
    with reuse_heap_memory():
        _execute_threads(job, tasks, workers, progress, ready)
    if ready is not None:
        ready.result()  # also when there was nothing to write


def _execute_threads(
    job: CubeJob, tasks: list[ChunkTask], workers: int, progress: Progress | None, ready: Future | None = None
) -> None:
    """A two-stage pipeline on threads: reader threads decode and aggregate bands (NetCDF and GeoTIFF
    reads are serialised by the library lock anyway, so one reader per two workers), while the
    worker pool resamples, compresses and writes the chunks of bands already read. At most
    `workers + 1` bands are held in memory, so memory is flat however long the cube is."""
    total = len(tasks)
    events: queue.Queue = queue.Queue()  # None: one task finished; an exception: stop
    stop = threading.Event()
    slots = threading.Semaphore(workers + 1)
    next_task = iter(tasks)
    next_lock = threading.Lock()

    def finish_band(band: Band, remaining: list[int], lock: threading.Lock, future) -> None:
        if not future.cancelled() and future.exception() is not None:
            stop.set()
            events.put(future.exception())
            return
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            band.data = None
            slots.release()
            events.put(None)

    def reader(pool: ThreadPoolExecutor) -> None:
        while not stop.is_set():
            with next_lock:
                task = next(next_task, None)
            if task is None:
                return
            while not slots.acquire(timeout=0.1):
                if stop.is_set():
                    return
            try:
                band = read_band(job, task)
                if ready is not None and band is not None:
                    ready.result()
            except BaseException as exc:  # reported to the main thread, which raises it
                stop.set()
                slots.release()
                events.put(exc)
                return
            if band is None:
                slots.release()
                events.put(None)
                continue
            remaining, lock = [len(band.tiles)], threading.Lock()
            for tile in band.tiles:
                future = pool.submit(write_tile, job, band, tile)
                future.add_done_callback(functools.partial(finish_band, band, remaining, lock))

    n_readers = max(1, workers // 2)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cube-write")
    readers = [
        threading.Thread(target=reader, args=(pool,), name=f"cube-read-{i}", daemon=True)
        for i in range(n_readers)
    ]
    try:
        for thread in readers:
            thread.start()
        done = 0
        while done < total:
            item = events.get()
            if item is not None:
                raise item
            done += 1
            if progress:
                progress(done, total)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        pool.shutdown(wait=True, cancel_futures=True)


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
