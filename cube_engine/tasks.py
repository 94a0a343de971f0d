"""The task list: bands of whole output tiles as large as the task memory budget allows, in the
order that keeps reads cheap.

Bands are as large as `CUBE_ENGINE_TASK_MB` (default 64 MiB of decoded input per task) allows, so
each input file window is decoded once per time block however many tiles need it, and memory stays
bounded however long or wide the cube is. A band's source window is the hull of its tiles' windows
(`plan.read_window` composes by union), so each tile is planned once however many band shapes are
tried, and a huge grid of tiles is sized with array reductions over their windows (`bands`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .cubeplan import ChunkTask
from .plan import SourcePlan
from .readers import SourceInfo
from .writer import ChunkShape

Span = tuple[int, int]
Window = tuple[slice, slice]


def tile_edges(height: int, width: int, chunks: ChunkShape) -> tuple[list[Span], list[Span]]:
    """Output chunk row ranges and column ranges."""
    return (
        [(r, min(r + chunks.y, height)) for r in range(0, height, chunks.y)],
        [(c, min(c + chunks.x, width)) for c in range(0, width, chunks.x)],
    )


def hull(windows: list[Window | None]) -> Window | None:
    """The smallest window containing every given one (None when none is given)."""
    found = [w for w in windows if w is not None]
    if not found:
        return None
    return (
        slice(min(w[0].start for w in found), max(w[0].stop for w in found)),
        slice(min(w[1].start for w in found), max(w[1].stop for w in found)),
    )


_FAR = 2**40  # beyond every source index; differences of it still fit int64
_BLOCK_TILES = 2**16  # tiles per step of a one-row band check (it stops at the first band over)

Hulls = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # y0, y1, x0, x1 per tile or group


def _tile_hulls(windows: np.ndarray) -> Hulls:
    """Each tile's window as (y0, y1, x0, x1) arrays, a tile missing the source as the empty hull
    (starts +_FAR, stops -_FAR), so that min / max over any group of tiles is the group's hull."""
    hit = windows[..., 1] > windows[..., 0]
    return tuple(np.where(hit, windows[..., k], -_FAR if k % 2 else _FAR) for k in range(4))


def _group_hulls(hulls: Hulls, starts: np.ndarray, axis: int) -> Hulls:
    """The hulls of the runs of tiles along `axis` that begin at `starts`."""
    y0, y1, x0, x1 = hulls
    return (
        np.minimum.reduceat(y0, starts, axis),
        np.maximum.reduceat(y1, starts, axis),
        np.minimum.reduceat(x0, starts, axis),
        np.maximum.reduceat(x1, starts, axis),
    )


def _largest_area(hulls: Hulls) -> int | None:
    """The largest window (pixels) among the hulls holding a tile; None when none holds one."""
    y0, y1, x0, x1 = hulls
    hit = y0 < _FAR
    if not hit.any():
        return None
    return int(((y1 - y0)[hit] * (x1 - x0)[hit]).max())


def bands(
    plan: SourcePlan, method: str, n_obs: int, height: int, width: int, chunks: ChunkShape, budget: int
) -> list[tuple[Span, Span]]:
    """Bands of whole tiles whose source window of `n_obs` observations fits the budget (bytes):
    the fewest bands of k tile rows x m tile columns (largest k*m first), at least one tile.

    A shape fits when all its bands do, and up to rows + columns shapes are tried, so nothing is
    recomputed per shape: the tiles' windows come once (`SourcePlan.tile_windows`), whole-width
    bands are hulls of the tile rows' hulls, and one-row bands are array reductions over blocks of
    rows, stopping at the first block over budget. A global 0.002 degree grid in 64-pixel tiles
    (four million of them) plans in about a second."""
    row_tiles, col_tiles = tile_edges(height, width, chunks)
    ny, nx = len(row_tiles), len(col_tiles)
    tiles = _tile_hulls(
        plan.tile_windows(method, [slice(*r) for r in row_tiles], [slice(*c) for c in col_tiles])
    )
    rows = _group_hulls(tiles, np.array([0]), 1)  # (ny, 1): the hull of each tile row
    busy = rows[0][:, 0] < _FAR
    tiles = tuple(a[busy] for a in tiles)  # rows missing the source take no part in one-row bands
    step = max(1, _BLOCK_TILES // nx)

    def fits(hulls: Hulls) -> bool:
        area = _largest_area(hulls)
        return area is None or area * max(n_obs, 1) * 4 <= budget

    def fits_rows(k: int) -> bool:  # bands of k tile rows x every column
        return fits(_group_hulls(rows, np.arange(0, ny, k), 0))

    def fits_one_row(m: int) -> bool:  # bands of one tile row x m columns
        starts = np.arange(0, nx, m)
        blocks = range(0, len(tiles[0]), step)
        return all(fits(_group_hulls(tuple(a[r : r + step] for a in tiles), starts, 1)) for r in blocks)

    def split(n_tiles: int, n: int) -> list[tuple[int, int]]:
        return [(i, min(i + n, n_tiles)) for i in range(0, n_tiles, n)]

    k = next((k for k in range(ny, 0, -1) if fits_rows(k)), None)
    m = nx
    if k is None:
        k, m = 1, next((m for m in range(nx - 1, 0, -1) if fits_one_row(m)), 1)
    return [
        ((row_tiles[i0][0], row_tiles[i1 - 1][1]), (col_tiles[j0][0], col_tiles[j1 - 1][1]))
        for i0, i1 in split(ny, k)
        for j0, j1 in split(nx, m)
    ]


def chunk_tasks(
    sources: Sequence[SourceInfo],
    plans: Sequence[SourcePlan],
    obs_period: Sequence[np.ndarray],
    *,
    height: int,
    width: int,
    chunks: ChunkShape,
    n_times: int | None,
    compute_from: int,
    budget: int,
) -> tuple[ChunkTask, ...]:
    """Every task of a run, time-block-major, so the files of one block are read while cached."""
    out: list[ChunkTask] = []
    # Round-robin over sources (first variable of each source, then the second...), so tasks
    # running side by side usually read different products: their decode costs differ, and
    # two decode-heavy tasks would wait on each other for the (HDF5) library lock.
    per_source = [
        [
            (i, v.output_name, plans[i].resolve_method(v.resampling or info.config.resampling))
            for v in info.config.variables
        ]
        for i, info in enumerate(sources)
    ]
    units = [u for row in itertools.zip_longest(*per_source) for u in row if u is not None]
    if compute_from == 0:
        for i, name, method in units:
            if sources[i].static:
                for rows, cols in bands(plans[i], method, 1, height, width, chunks, budget):
                    out.append(ChunkTask(None, None, rows, cols, i, name))
    starts = (
        []
        if n_times is None
        else list(range((compute_from // chunks.time) * chunks.time, n_times, chunks.time))
    )
    sized: dict[tuple[int, str], list[tuple[Span, Span]]] = {}
    for t0 in starts:
        t1 = min(t0 + chunks.time, n_times)
        for i, name, method in units:
            if sources[i].static:
                continue
            periods = obs_period[i]
            n_obs = int(((periods >= max(t0, compute_from)) & (periods < t1)).sum())
            if n_obs == 0:
                continue
            if (i, method) not in sized:
                busiest = max(int(((periods >= s) & (periods < s + chunks.time)).sum()) for s in starts)
                sized[i, method] = bands(plans[i], method, busiest, height, width, chunks, budget)
            for rows, cols in sized[i, method]:
                out.append(ChunkTask(t0, t1, rows, cols, i, name))
    return tuple(out)
