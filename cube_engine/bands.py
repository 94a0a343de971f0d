"""One task's IO: read its band (every observation of the time block, one hyperslab per file,
aggregated in time once), then resample and write each output chunk of the band.

Executors call `read_band` and `write_tile` through this module (the thread pipeline runs them in
different threads), or `run_task` for both at once (the Dask path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cubeplan import ChunkTask, CubePlan
from .readers import SourceInfo
from .sources import read
from .tasks import hull
from .timeaxis import aggregate
from .writer import chunk_writer, output_array

Window = tuple[slice, slice]
Tile = tuple[slice, slice, Window]  # output rows, output cols, source window


@dataclass(eq=False)
class Band:
    """A task's input, read and aggregated in time: `data` covers the source window `window`
    (the executor drops `data` once every tile is written)."""

    task: ChunkTask
    name: str
    method: str
    window: Window
    data: np.ndarray | None
    tiles: list[Tile]


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


def _read_observations(info: SourceInfo, name: str, picks: np.ndarray, window: Window) -> np.ndarray:
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


def _sub_window(window: Window, outer: Window) -> Window:
    """`window` (absolute source indices) relative to `outer`, which contains it."""
    return tuple(slice(w.start - o.start, w.stop - o.start) for w, o in zip(window, outer, strict=True))


def read_band(plan: CubePlan, task: ChunkTask) -> Band | None:
    """Read the task's source window of every observation in its time block once and aggregate it
    in time; None when no output chunk of the task gets data."""
    info = plan.sources[task.source]
    source_plan, periods = plan.source_plans[task.source], plan.obs_period[task.source]
    var = info.variables[task.variable].config
    method = source_plan.resolve_method(var.resampling or info.config.resampling)
    if task.t0 is None:
        picks = np.array([0])
    else:
        picks = np.flatnonzero((periods >= max(task.t0, plan.compute_from)) & (periods < task.t1))
        if picks.size == 0:
            return None
    tiles = []
    cy, cx = plan.chunks.y, plan.chunks.x
    for r0 in range(task.rows[0], task.rows[1], cy):
        for c0 in range(task.cols[0], task.cols[1], cx):
            rows, cols = slice(r0, min(r0 + cy, task.rows[1])), slice(c0, min(c0 + cx, task.cols[1]))
            tile_window = source_plan.read_window(method, rows, cols)
            if tile_window is not None:
                tiles.append((rows, cols, tile_window))
    if not tiles:
        return None
    window = hull([w for _, _, w in tiles])
    data = _read_observations(info, task.variable, picks, window)
    if task.t0 is not None:
        how = var.aggregation or plan.config.time.aggregation
        data = aggregate(data, periods[picks] - task.t0, task.t1 - task.t0, how)
    return Band(task, var.output_name, method, window, data, tiles)


def write_tile(plan: CubePlan, store_path: str, band: Band, tile: Tile) -> None:
    """Resample one output chunk from the band's data and write it into the cube at `store_path`."""
    task, name = band.task, band.name
    rows, cols, window = tile
    ys, xs = _sub_window(window, band.window)
    source_plan = plan.source_plans[task.source]
    out = source_plan.resample_window(band.data[..., ys, xs], band.method, rows, cols, window)
    if task.t0 is not None and plan.append is not None and plan.append.existing > task.t0:
        # Append into a partial time chunk: keep the cube's existing steps bit for bit.
        array = output_array(plan.append.cube_path, plan.storage_options, name)
        keep = plan.append.existing - task.t0
        out[:keep] = array[task.t0 : plan.append.existing, rows, cols]
    _write(plan, store_path, name, task, rows, cols, out)


def run_task(plan: CubePlan, store_path: str, task: ChunkTask) -> int:
    """Compute and write every output chunk of one task; returns the number of chunks written."""
    band = read_band(plan, task)
    if band is None:
        return 0
    for tile in band.tiles:
        write_tile(plan, store_path, band, tile)
    return len(band.tiles)


def _write(
    plan: CubePlan, store_path: str, name: str, task: ChunkTask, rows: slice, cols: slice, out: np.ndarray
) -> None:
    writer = chunk_writer(store_path, plan.storage_options, name)
    if writer is not None:
        if task.t0 is None:
            writer.write((rows.start, cols.start), out[0])
        else:
            writer.write((task.t0, rows.start, cols.start), out)
        return
    array = output_array(store_path, plan.storage_options, name, plan.array_shape(name))
    if task.t0 is None:
        array[rows, cols] = out[0]
    else:
        array[task.t0 : task.t1, rows, cols] = out
