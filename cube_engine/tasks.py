"""The task list: bands of whole output tiles as large as the task memory budget allows, in the
order that keeps reads cheap.

Bands are as large as `CUBE_ENGINE_TASK_MB` (default 64 MiB of decoded input per task) allows, so
each input file window is decoded once per time block however many tiles need it, and memory stays
bounded however long or wide the cube is. A band's source window is the hull of its tiles' windows
(`plan.read_window` composes by union), so each tile is planned once however many band shapes are
tried.
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


def bands(
    plan: SourcePlan, method: str, n_obs: int, height: int, width: int, chunks: ChunkShape, budget: int
) -> list[tuple[Span, Span]]:
    """Bands of whole tiles whose source window of `n_obs` observations fits the budget (bytes):
    the fewest bands of k tile rows x m tile columns (largest k*m first), at least one tile."""
    row_tiles, col_tiles = tile_edges(height, width, chunks)
    windows = {
        (i, j): plan.read_window(method, slice(*rows), slice(*cols))
        for i, rows in enumerate(row_tiles)
        for j, cols in enumerate(col_tiles)
    }

    def split(n_tiles: int, n: int) -> list[tuple[int, int]]:
        return [(i, min(i + n, n_tiles)) for i in range(0, n_tiles, n)]

    def fits(k: int, m: int) -> bool:
        for i0, i1 in split(len(row_tiles), k):
            for j0, j1 in split(len(col_tiles), m):
                window = hull([windows[i, j] for i in range(i0, i1) for j in range(j0, j1)])
                if window is None:
                    continue
                size = (window[0].stop - window[0].start) * (window[1].stop - window[1].start)
                if size * max(n_obs, 1) * 4 > budget:
                    return False
        return True

    ny, nx = len(row_tiles), len(col_tiles)
    candidates = [(k, nx) for k in range(ny, 0, -1)] + [(1, m) for m in range(nx - 1, 0, -1)]
    k, m = next((km for km in candidates if fits(*km)), (1, 1))
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
