"""Band sizing: the array reductions of `tasks.bands` choose exactly the bands that checking every
candidate shape tile by tile chooses (the reference below), on grids where tiles miss the source,
edge tiles are partial, and budgets reach every kind of band shape."""

from __future__ import annotations

import numpy as np
import pytest

from cube_engine import tasks
from cube_engine.grid import Grid
from cube_engine.plan import ReprojectedPlan, SeparablePlan, SourcePlan, plan_source
from cube_engine.tasks import bands, hull, tile_edges
from cube_engine.writer import ChunkShape

TARGET = Grid.from_bbox((0, 0, 30, 20), 0.05, "EPSG:4326")  # 400 x 600
PARTIAL = Grid.from_bbox((5.02, 3.0, 22.0, 15.04), 0.02, "EPSG:4326")  # covers part of the target
UTM_TARGET = Grid.from_bbox((500000, 5300000, 620000, 5380000), 1000.0, "EPSG:32632")  # 80 x 120
UTM_SOURCE = Grid.from_bbox((8.5, 47.6, 10.0, 48.4), 0.01, "EPSG:4326")  # inside part of it


def reference_bands(plan: SourcePlan, method: str, n_obs: int, height: int, width: int, chunks, budget):
    """Every candidate shape (k rows x all columns, then one row x m columns) checked band by band on
    the hull of its tiles' `read_window`s; the first that fits."""
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


def _shape(found: list, chunks: ChunkShape, grid: Grid) -> str:
    """Which kind of band shape was chosen: whole width, part of one row, or single tiles."""
    (r0, r1), (c0, c1) = found[0]
    if (c0, c1) == (0, grid.width):
        return "whole width"
    return "one tile" if (r1 - r0, c1 - c0) == (chunks.y, chunks.x) else "part of a row"


@pytest.mark.parametrize(
    ("source", "target", "chunks", "methods"),
    [
        (PARTIAL, TARGET, ChunkShape(1, 32, 48), ("nearest", "bilinear", "block_mean")),
        (UTM_SOURCE, UTM_TARGET, ChunkShape(1, 16, 20), ("bilinear", "block_mean")),
    ],
    ids=["same CRS", "reprojected"],
)
@pytest.mark.parametrize("block_tiles", [tasks._BLOCK_TILES, 1], ids=["one block", "row by row"])
def test_bands_equal_the_tile_by_tile_reference(source, target, chunks, methods, block_tiles, monkeypatch):
    monkeypatch.setattr(tasks, "_BLOCK_TILES", block_tiles)  # one-row bands checked in row blocks
    plan = plan_source(source, target)
    assert isinstance(plan, ReprojectedPlan if target is UTM_TARGET else SeparablePlan)
    whole = plan.read_window("bilinear", slice(0, target.height), slice(0, target.width))
    area = (whole[0].stop - whole[0].start) * (whole[1].stop - whole[1].start) * 4
    shapes = set()
    for method in methods:
        for n_obs in (0, 1, 7):
            for fraction in (2.0, 0.5, 0.1, 0.03, 0.01, 0.003, 0.0005, 1e-7):
                budget = int(area * fraction)
                args = (plan, method, n_obs, target.height, target.width, chunks, budget)
                expected = reference_bands(*args)
                assert bands(*args) == expected, (method, n_obs, fraction)
                shapes.add(_shape(expected, chunks, target))
    assert shapes == {"whole width", "part of a row", "one tile"}  # every branch was compared


@pytest.mark.parametrize(
    ("source", "target", "chunks"),
    [(PARTIAL, TARGET, ChunkShape(1, 32, 48)), (UTM_SOURCE, UTM_TARGET, ChunkShape(1, 16, 20))],
    ids=["same CRS", "reprojected"],
)
def test_tile_windows_are_the_tiles_read_windows(source, target, chunks):
    plan = plan_source(source, target)
    row_tiles, col_tiles = tile_edges(target.height, target.width, chunks)
    for method in ("nearest", "block_mean"):
        found = plan.tile_windows(method, [slice(*r) for r in row_tiles], [slice(*c) for c in col_tiles])
        assert found.shape == (len(row_tiles), len(col_tiles), 4) and found.dtype == np.int64
        misses = 0
        for i, rows in enumerate(row_tiles):
            for j, cols in enumerate(col_tiles):
                window = plan.read_window(method, slice(*rows), slice(*cols))
                if window is None:
                    misses += 1
                    assert tuple(found[i, j]) == (0, 0, 0, 0)
                else:
                    assert tuple(found[i, j]) == (
                        window[0].start,
                        window[0].stop,
                        window[1].start,
                        window[1].stop,
                    )
        assert 0 < misses < found.shape[0] * found.shape[1]  # both kinds of tile are compared
