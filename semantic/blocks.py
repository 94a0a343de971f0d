"""Reading a cube block by block and encoding each block into binary COPY buffers.

Values are read along the cube's own chunks (time chunk x row chunk, all columns of the window), so
each Zarr chunk is decoded once and memory depends on the chunk size, not on the number of time
steps. Each read block is encoded by numpy (`semantic.copy_buffers`) into slices of about
ENCODE_ROWS rows: small enough to stay in cache and to keep the COPY stream flowing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from semantic import copy_buffers, dtypes, grid
from semantic.cube import CubeSelection

MAX_BLOCK_CELLS = 4_000_000  # time steps x cells read at once: 16 MB per variable
ENCODE_ROWS = 262_144  # rows per encoded COPY slice (~10 MB)
STEP_COPY_MIN_ROWS = 100_000  # cells per read block from which a time step goes as its own COPY


@dataclass(frozen=True)
class Block:
    """One encoded slice of a COPY stream: `rows` tuples in `data`.

    `time` is set when the slice is one time step encoded without the time field (see
    `semantic.copy_stream.copy_blocks`).
    """

    rows: int
    data: copy_buffers.Buffer
    time: np.datetime64 | None = None


def _time_blocks(sel: CubeSelection) -> list[np.ndarray]:
    """Selected time positions grouped by the cube's time chunks."""
    chunk = sel.time_chunk()
    groups = sel.time_index // chunk
    return [sel.time_index[groups == g] for g in np.unique(groups)]


def _row_blocks(sel: CubeSelection, n_times: int) -> list[tuple[int, int]]:
    """Row ranges holding at most MAX_BLOCK_CELLS values; whole row chunks when they must be split.

    Usually one block spans all rows of a time chunk, so the COPY stream is sorted by (time, cell_id):
    the primary key then builds from presorted input, the cheapest index build there is.
    """
    row0, row1, col0, col1 = sel.window
    cap = max(1, MAX_BLOCK_CELLS // max(1, n_times * (col1 - col0)))
    if cap >= row1 - row0:
        return [(row0, row1)]
    chunk = sel.row_chunk()
    step = max(chunk, (cap // chunk) * chunk) if cap >= chunk else cap
    return [(start, min(start + step, row1)) for start in range(row0, row1, step)]


def observation_blocks(sel: CubeSelection, *, step_defaults: bool = False) -> Iterator[Block]:
    """Encoded observations per slice, in (time, cell_id) order when a read block spans all rows.

    Values are read one block at a time (time chunk x rows) and encoded in slices of about
    ENCODE_ROWS rows.

    With `step_defaults` (a fresh table that only this transaction sees), a read block with at least
    STEP_COPY_MIN_ROWS cells is sent one time step per slice without the time field: the COPY driver
    makes the step's time the column default for that slice's COPY. Smaller blocks carry the time in
    every row.
    """
    _, _, col0, col1 = sel.window
    for tpos in _time_blocks(sel):
        t0, t1 = int(tpos[0]), int(tpos[-1]) + 1
        times = sel.times[(sel.time_index >= t0) & (sel.time_index < t1)]
        for r0, r1 in _row_blocks(sel, t1 - t0):
            rows = np.repeat(np.arange(r0, r1), col1 - col0)
            cols = np.tile(np.arange(col0, col1), r1 - r0)
            cell_ids = grid.cell_ids(sel.grid, rows, cols)
            per_step = cell_ids.size
            by_step = step_defaults and per_step >= STEP_COPY_MIN_ROWS
            template = copy_buffers.observation_template(cell_ids, len(sel.variables), with_time=not by_step)
            values = [
                np.asarray(
                    sel.read(var.name, slice(t0, t1), slice(r0, r1), slice(col0, col1)), dtype=np.float32
                ).reshape(t1 - t0, -1)
                for var in sel.variables
            ]
            steps = 1 if by_step else max(1, ENCODE_ROWS // per_step)
            for i in range(0, t1 - t0, steps):
                j = min(i + steps, t1 - t0)
                step_values = [v[i:j] for v in values]
                if by_step:
                    data = copy_buffers.observation_rows(cell_ids, None, step_values, template)
                    yield Block((j - i) * per_step, data, times[i])
                else:
                    data = copy_buffers.observation_rows(cell_ids, times[i:j], step_values, template)
                    yield Block((j - i) * per_step, data)


def cell_blocks(sel: CubeSelection, band: int = 256) -> Iterator[Block]:
    """Cells band by band (rows), each with the window's slice of every selected static layer."""
    row0, row1, col0, col1 = sel.window
    types = [dtypes.by_sql(v.sql_type) for v in sel.static]
    for r0 in range(row0, row1, band):
        r1 = min(r0 + band, row1)
        lon, lat = grid.corner_lonlat(sel.grid, r0, r1, col0, col1)
        rows = np.repeat(np.arange(r0, r1, dtype=np.int32), col1 - col0)
        cols = np.tile(np.arange(col0, col1, dtype=np.int32), r1 - r0)
        static = [
            (column, sel.read(v.name, slice(r0, r1), slice(col0, col1)))
            for v, column in zip(sel.static, types, strict=True)
        ]
        cell_ids = grid.cell_ids(sel.grid, rows, cols)
        yield Block(rows.size, copy_buffers.cell_rows(cell_ids, rows, cols, lon, lat, static))
