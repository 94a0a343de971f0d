"""Resampling plans are sized by tiles, never by the target grid: a global 0.001 degree grid (6.5e10
pixels; float64 positions for it would be ~1 TB) plans in a few MB, and a tile's positions and
windows are the ones a whole-grid computation gives."""

from __future__ import annotations

import pickle
import threading
import tracemalloc

import numpy as np
import pytest
from pyproj import Transformer

from cube_engine.grid import Grid
from cube_engine.lru import LockedLRU
from cube_engine.plan import ReprojectedPlan, SeparablePlan, plan_source
from cube_engine.resample import read_window_2d

GLOBAL_0001 = Grid.from_bbox((-180, -90, 180, 90), 0.001, "EPSG:4326")  # 180000 x 360000
LIMIT = 16 * 2**20


def _planned_peak(source: Grid, tile: tuple[slice, slice]):
    data = np.ones((1, source.height, source.width), dtype="float32")
    tracemalloc.start()
    try:
        plan = plan_source(source, GLOBAL_0001)
        overlaps = plan.overlaps()
        window = plan.read_window("nearest", *tile)
        out = plan.resample(data, "nearest", *tile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return plan, overlaps, window, out, peak - data.nbytes


def test_a_global_0001_degree_target_plans_in_little_memory_when_reprojecting():
    utm = Grid.from_bbox((500000, 5000000, 600000, 5100000), 100.0, "EPSG:32632")  # ~9 E, 45 N
    lon, lat = Transformer.from_crs(32632, 4326, always_xy=True).transform(550000, 5050000)
    row, col = int((90 - lat) / 0.001), int((lon + 180) / 0.001)
    tile = (slice(row, row + 256), slice(col, col + 256))
    plan, overlaps, window, out, peak = _planned_peak(utm, tile)
    assert isinstance(plan, ReprojectedPlan)
    assert 0.9 < plan.scale < 1.5  # 0.001 degree (~80 x 111 m) over 100 m source pixels
    assert overlaps and window is not None
    assert out.shape == (1, 256, 256) and np.isfinite(out).all()
    assert peak < LIMIT, f"planning allocated {peak / 2**20:.1f} MiB"


def test_a_global_0001_degree_target_plans_in_little_memory_on_the_same_crs():
    small = Grid.from_bbox((10, 45, 11, 46), 0.01, "EPSG:4326")
    tile = (slice(44000, 44512), slice(190000, 190512))  # 44..44.512 N, 10..10.512 E
    plan, overlaps, window, out, peak = _planned_peak(small, tile)
    assert isinstance(plan, SeparablePlan)
    assert overlaps and window is not None
    assert out.shape == (1, 512, 512) and np.isfinite(out).all()
    assert peak < LIMIT, f"planning allocated {peak / 2**20:.1f} MiB"


def test_a_source_outside_a_huge_target_does_not_overlap():
    far = Grid.from_bbox((10, 45, 11, 46), 0.01, "EPSG:4326")
    target = Grid.from_bbox((-180, -90, 0, 0), 0.001, "EPSG:4326")
    assert not plan_source(far, target).overlaps()


def _old_fields(source: Grid, target: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The whole-grid position fields, computed as one array (the reference)."""
    xx, yy = np.meshgrid(target.x, target.y)
    sx, sy = Transformer.from_crs(target.crs, source.crs, always_xy=True).transform(xx.ravel(), yy.ravel())
    s = source.transform
    return ((np.asarray(sy) - s.f) / s.e).reshape(target.shape), ((np.asarray(sx) - s.c) / s.a).reshape(
        target.shape
    )


def test_tile_positions_and_windows_equal_the_whole_grid_computation():
    source = Grid.from_bbox((8.0, 47.0, 10.0, 49.0), 0.01, "EPSG:4326")
    target = Grid.from_bbox((500000, 5300000, 560000, 5340000), 1000.0, "EPSG:32632")  # 40 x 60
    plan = plan_source(source, target)
    fy, fx = _old_fields(source, target)
    for rows, cols in (
        (slice(0, 16), slice(0, 16)),
        (slice(16, 40), slice(32, 60)),
        (slice(5, 6), slice(0, 60)),
    ):
        tile_fy, tile_fx = plan.positions(rows, cols)
        np.testing.assert_array_equal(tile_fy, fy[rows, cols])
        np.testing.assert_array_equal(tile_fx, fx[rows, cols])
        y0, y1, x0, x1 = read_window_2d(fy[rows, cols], fx[rows, cols], source.height, source.width, margin=2)
        assert plan.read_window("nearest", rows, cols) == (slice(y0, y1), slice(x0, x1))
    # A region's window is the hull of its parts' windows, however it is cut.
    whole = plan.read_window("bilinear", slice(0, 40), slice(0, 60))
    parts = [
        plan.read_window("bilinear", slice(r, r + 8), slice(c, c + 12))
        for r in range(0, 40, 8)
        for c in range(0, 60, 12)
    ]
    assert whole == (
        slice(min(p[0].start for p in parts), max(p[0].stop for p in parts)),
        slice(min(p[1].start for p in parts), max(p[1].stop for p in parts)),
    )


def test_the_scale_and_the_tiles_take_positions_from_one_transformation():
    source = Grid.from_bbox((8.0, 47.0, 10.0, 49.0), 0.01, "EPSG:4326")
    target = Grid.from_bbox((500000, 5300000, 560000, 5340000), 1000.0, "EPSG:32632")  # 40 x 60
    plan = plan_source(source, target)
    fy, fx = _old_fields(source, target)
    rows, cols = np.array([0, 7, 8, 39]), np.array([3, 4, 59])  # a lattice, not a tile
    lattice_fy, lattice_fx = plan.source_positions(rows, cols)
    np.testing.assert_array_equal(lattice_fy, fy[np.ix_(rows, cols)])
    np.testing.assert_array_equal(lattice_fx, fx[np.ix_(rows, cols)])
    # Under 128 pixels a side the scale is the median step, in source pixels, over the whole grid.
    across = np.hypot(np.diff(fx, axis=1), np.diff(fy, axis=1))
    down = np.hypot(np.diff(fx, axis=0), np.diff(fy, axis=0))
    assert plan.scale == float(np.median(np.concatenate([across.ravel(), down.ravel()])))
    assert 0.9 < plan.scale < 1.6  # 1 km over 0.01 degree (~0.75 x 1.1 km) pixels


def test_plans_pickle_without_their_memos():
    plan = plan_source(
        Grid.from_bbox((0, 0, 4, 4), 0.5, "EPSG:4326"), Grid.from_bbox((0, 0, 4, 4), 1.0, "EPSG:4326")
    )
    window = plan.read_window("block_mean", slice(0, 4), slice(0, 4))
    copy = pickle.loads(pickle.dumps(plan))
    assert len(copy._ops) == 0 and len(plan._ops) > 0
    assert copy.read_window("block_mean", slice(0, 4), slice(0, 4)) == window


def test_locked_lru_stays_bounded_and_consistent_under_threads():
    memo: LockedLRU[int] = LockedLRU(64)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(5000):
                key = (offset * 7 + i) % 200
                assert memo.get(key, lambda key=key: key * 2) == key * 2
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(memo) == 64


def test_locked_lru_by_weight_evicts_the_least_recently_used():
    memo: LockedLRU[bytes] = LockedLRU(10, len)
    memo.get("a", lambda: b"xxxx")
    memo.get("b", lambda: b"xxxx")
    memo.get("a", lambda: b"never")  # a hit: "a" is now the most recent
    memo.get("c", lambda: b"xxxx")  # 12 > 10: "b" goes
    assert memo.get("b", lambda: b"new") == b"new"
    assert memo.get("c", lambda: b"never") == b"xxxx"
    with pytest.raises(ValueError):
        LockedLRU(0)
