"""Resampling kernels against exact references on tiny grids."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from cube_engine.grid import Grid
from cube_engine.plan import plan_source
from cube_engine.resample import (
    bilinear_op,
    coarsen,
    nearest_op,
    resample_points,
    resample_separable,
    window_op,
)


def _positions(target: Grid, source: Grid):
    """Fractional source pixel-edge positions of target centres and edges, per axis."""
    fx_c = (target.x - source.transform.c) / source.transform.a
    fy_c = (target.y - source.transform.f) / source.transform.e
    fx_e = (target.x_edges() - source.transform.c) / source.transform.a
    fy_e = (target.y_edges() - source.transform.f) / source.transform.e
    return fy_c, fx_c, fy_e, fx_e


def _run(data, source: Grid, target: Grid, method: str):
    fy_c, fx_c, fy_e, fx_e = _positions(target, source)
    if method in ("block_mean", "mode"):
        op_y, op_x = window_op(fy_e, source.height), window_op(fx_e, source.width)
    elif method == "bilinear":
        op_y, op_x = bilinear_op(fy_c, source.height), bilinear_op(fx_c, source.width)
    else:
        op_y, op_x = nearest_op(fy_c, source.height), nearest_op(fx_c, source.width)
    cut = data[..., op_y.lo : op_y.hi, op_x.lo : op_x.hi]
    return resample_separable(cut, op_y, op_x, method)


RNG = np.random.default_rng(42)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_block_mean_integer_factor_equals_reshape_mean(factor):
    src = Grid.from_bbox((0, 0, 12, 12), 1.0 / factor, "EPSG:4326")
    dst = Grid.from_bbox((0, 0, 12, 12), 1.0, "EPSG:4326")
    data = RNG.normal(280, 10, (2, 12 * factor, 12 * factor)).astype("float32")
    expected = data.reshape(2, 12, factor, 12, factor).mean(axis=(2, 4))
    np.testing.assert_allclose(_run(data, src, dst, "block_mean"), expected, rtol=1e-6, atol=1e-6)


def test_block_mean_flipped_source_equals_reshape_mean_of_flipped():
    src = Grid.from_bbox((0, 0, 8, 8), 0.5, "EPSG:4326")
    flipped = Grid.from_coords(src.x, src.y[::-1], "EPSG:4326")  # latitude ascending
    dst = Grid.from_bbox((0, 0, 8, 8), 1.0, "EPSG:4326")
    data = RNG.normal(0, 1, (16, 16)).astype("float32")
    expected = data.reshape(8, 2, 8, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(
        _run(data[::-1].copy(), flipped, dst, "block_mean"), expected, rtol=1e-6, atol=1e-6
    )


def test_block_mean_wider_source_cuts_the_right_window():
    src = Grid.from_bbox((-2, -2, 10, 10), 0.5, "EPSG:4326")  # 24x24, region is rows/cols 4..20
    dst = Grid.from_bbox((0, 0, 8, 8), 1.0, "EPSG:4326")
    data = RNG.normal(0, 1, (24, 24)).astype("float32")
    expected = data[4:20, 4:20].reshape(8, 2, 8, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(_run(data, src, dst, "block_mean"), expected, rtol=1e-6, atol=1e-6)


def test_block_mean_nan_only_when_all_inputs_nan():
    src = Grid.from_bbox((0, 0, 2, 2), 0.5, "EPSG:4326")
    dst = Grid.from_bbox((0, 0, 2, 2), 1.0, "EPSG:4326")
    data = np.arange(16, dtype="float32").reshape(4, 4)
    data[0, 0] = np.nan  # one of four inputs of target (0, 0)
    data[0:2, 2:4] = np.nan  # all inputs of target (0, 1)
    out = _run(data, src, dst, "block_mean")
    assert out[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    assert np.isnan(out[0, 1])
    assert out[1, 0] == pytest.approx(data[2:4, 0:2].mean())


def test_equal_resolution_is_an_exact_window_cut():
    src = Grid.from_bbox((-1, -1, 6, 6), 0.25, "EPSG:4326")
    dst = Grid.from_bbox((0, 0, 5, 5), 0.25, "EPSG:4326")
    data = RNG.normal(0, 1, (3, 28, 28)).astype("float32")
    data[0, 5, 5] = np.nan
    for method in ("nearest", "bilinear", "block_mean"):
        out = _run(data, src, dst, method)
        np.testing.assert_array_equal(out, data[:, 4:24, 4:24], err_msg=method)


def test_bilinear_upsampling_matches_scipy_map_coordinates():
    src = Grid.from_bbox((0, 0, 11, 11), 0.025 * 40, "EPSG:4326")  # 11x11 coarse
    dst = Grid.from_bbox((1, 1, 10, 10), 0.5, "EPSG:4326")  # finer, inside the centres' hull
    data = RNG.normal(0, 1, (11, 11))
    fy_c, fx_c, _, _ = _positions(dst, src)
    yy, xx = np.meshgrid(fy_c - 0.5, fx_c - 0.5, indexing="ij")
    expected = map_coordinates(data, [yy, xx], order=1, mode="nearest")
    np.testing.assert_allclose(_run(data, src, dst, "bilinear"), expected, rtol=1e-5, atol=1e-6)


def test_bilinear_with_offset_and_flipped_source_matches_scipy():
    src = Grid.from_bbox((0.1, 0.3, 9.1, 9.3), 1.0, "EPSG:4326")
    flipped = Grid.from_coords(src.x, src.y[::-1], "EPSG:4326")
    dst = Grid.from_bbox((2, 2, 8, 8), 0.25, "EPSG:4326")
    data = RNG.normal(0, 1, (9, 9))
    fy_c, fx_c, _, _ = _positions(dst, src)
    yy, xx = np.meshgrid(fy_c - 0.5, fx_c - 0.5, indexing="ij")
    expected = map_coordinates(data, [yy, xx], order=1, mode="nearest")
    out = _run(data[::-1].copy(), flipped, dst, "bilinear")
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_bilinear_nan_rule():
    src = Grid.from_bbox((0, 0, 2, 2), 1.0, "EPSG:4326")
    dst = Grid.from_bbox((0.5, 0.5, 1.5, 1.5), 1.0, "EPSG:4326")  # one pixel, centre between all four
    data = np.array([[1.0, np.nan], [3.0, np.nan]])
    assert _run(data, src, dst, "bilinear")[0, 0] == pytest.approx(2.0)
    assert np.isnan(_run(np.full((2, 2), np.nan), src, dst, "bilinear")[0, 0])


def test_target_outside_source_is_nan():
    src = Grid.from_bbox((0, 0, 4, 4), 1.0, "EPSG:4326")
    dst = Grid.from_bbox((2, 2, 6, 6), 1.0, "EPSG:4326")
    out = _run(np.ones((4, 4)), src, dst, "nearest")
    assert np.isnan(out[:, 2:]).all() and np.isnan(out[:2, :]).all()
    np.testing.assert_array_equal(out[2:, :2], 1.0)


def test_mode_picks_most_frequent_class_and_ignores_nan():
    src = Grid.from_bbox((0, 0, 2, 1), 1 / 3, "EPSG:4326")  # 3x6
    dst = Grid.from_bbox((0, 0, 2, 1), 1.0, "EPSG:4326")  # 1x2
    data = np.array(
        [[1, 1, 2, 5, np.nan, np.nan], [2, 2, 2, 5, 7, np.nan], [3, 1, 1, np.nan, 7, np.nan]], dtype="float32"
    )
    out = _run(data, src, dst, "mode")
    np.testing.assert_array_equal(out, [[1.0, 5.0]])  # left: 1 and 2 tie (4 each) -> smaller


def test_block_mean_non_integer_factor_averages_contained_centres():
    src = Grid.from_bbox((0, 0, 6, 1), 1.0, "EPSG:4326")  # centres 0.5..5.5
    dst = Grid.from_bbox((0, 0, 5, 1), (2.5, 1.0), "EPSG:4326")
    data = np.array([[1, 2, 3, 4, 5, 6]], dtype="float32")
    out = _run(data, src, dst, "block_mean")
    # edges 0, 2.5, 5; centres 0.5, 1.5 | 2.5 (left-closed), 3.5, 4.5
    np.testing.assert_allclose(out, [[(1 + 2) / 2, (3 + 4 + 5) / 3]])


def test_coarsen_and_point_sampling_agree_with_separable_kernels():
    data = RNG.normal(0, 1, (8, 8)).astype("float32")
    np.testing.assert_allclose(
        coarsen(data, 2, "block_mean"), data.reshape(4, 2, 4, 2).mean(axis=(1, 3)), rtol=1e-6
    )
    fy, fx = np.meshgrid(np.array([0.5, 1.0, 3.2]), np.array([0.7, 2.5, 7.9]), indexing="ij")
    out = resample_points(data, fy, fx, "bilinear", (8, 8), (0, 0))
    expected = map_coordinates(data.astype("float64"), [fy - 0.5, fx - 0.5], order=1, mode="nearest")
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_reprojection_plan_to_utm_bilinear_matches_direct_formula():
    """A projected target (UTM 32N) over a geographic source: each target centre is transformed to
    lon/lat with pyproj and sampled bilinearly; a linear field must be reproduced exactly."""
    from pyproj import Transformer

    src = Grid.from_bbox((8.0, 47.0, 10.0, 49.0), 0.01, "EPSG:4326")
    dst = Grid.from_bbox((500000, 5300000, 520000, 5320000), 1000.0, "EPSG:32632")
    lon, lat = np.meshgrid(src.x, src.y)
    data = (2 * lon + 3 * lat).astype("float64")
    plan = plan_source(src, dst)
    out = plan.resample(data, "bilinear", slice(0, dst.height), slice(0, dst.width))
    to_geo = Transformer.from_crs(32632, 4326, always_xy=True)
    xx, yy = np.meshgrid(dst.x, dst.y)
    lon_t, lat_t = to_geo.transform(xx, yy)
    np.testing.assert_allclose(out, 2 * lon_t + 3 * lat_t, rtol=1e-5)
