"""Cells over the shared grid: regularity, exact decimal edges, registry records, bbox windows,
projected corners — and one Grid for both halves, equal where the engine's is equal."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS

from cube_engine.grid import Grid
from semantic.errors import CubeError, IrregularGridError
from semantic.grid import (
    corner_lonlat,
    cube_grid,
    exact_axes,
    exact_x_edges,
    grid_from_record,
    grid_record,
    window_for_bbox,
)


def geographic(width=10, height=8, west=10.0, north=50.0, res=0.01) -> Grid:
    x = west + (np.arange(width) + 0.5) * res
    y = north - (np.arange(height) + 0.5) * res
    return cube_grid(x, y, CRS.from_epsg(4326), "lon", "lat")


def test_edges_are_exact_decimals():
    grid = geographic(width=300, west=-3.7, res=0.01)
    edges = exact_x_edges(grid)
    assert exact_axes(grid).decimals == 2
    assert [repr(float(v)) for v in edges[:3]] == ["-3.7", "-3.69", "-3.68"]
    assert repr(float(edges[283])) == "-0.87"
    # the naive float sum is noisy where ours is not
    naive = -3.7 + 283 * 0.01
    assert repr(naive) != "-0.87"


def test_the_semantic_grid_is_the_engines_value_object():
    grid = geographic()
    engine = Grid.from_bbox((10.0, 49.92, 10.1, 50.0), 0.01, "EPSG:4326")
    assert type(grid) is Grid
    assert grid == engine and hash(grid) == hash(engine)
    with pytest.raises(AttributeError):
        grid.width = 3


def test_grid_round_trips_through_its_registry_record():
    grid = geographic()
    record = grid_record(grid)
    assert record == {
        "crs": "EPSG:4326", "x_dim": "lon", "y_dim": "lat", "width": 10, "height": 8,
        "x0": 1000, "y0": 5000, "dx": 1, "dy": 1, "decimals": 2,
    }  # fmt: skip
    assert grid_from_record(record) == grid and hash(grid_from_record(record)) == hash(grid)


def test_irregular_spacing_is_rejected_with_the_place():
    x = np.array([0.5, 1.5, 2.5, 4.0])
    expected = r"no regular grid: coordinate 'lon' is not regular: spacing varies.*between index 2 and 3"
    with pytest.raises(IrregularGridError, match=expected):
        cube_grid(x, np.array([1.5, 0.5]), CRS.from_epsg(4326), "lon", "lat")


def test_south_up_is_rejected():
    with pytest.raises(CubeError, match="descending"):
        cube_grid(np.array([0.5, 1.5]), np.array([0.5, 1.5]), CRS.from_epsg(4326), "lon", "lat")


def test_window_for_bbox_selects_intersecting_cells():
    grid = geographic()  # lon 10.00..10.10, lat 49.92..50.00
    assert window_for_bbox(grid, (10.015, 49.955, 10.035, 49.975)) == (2, 5, 1, 4)
    assert window_for_bbox(grid, (0, 0, 100, 89)) == (0, 8, 0, 10)


def test_projected_corners_are_transformed_to_lonlat():
    res = 1000.0
    x = 4_000_000 + (np.arange(3) + 0.5) * res
    y = 3_000_000 - (np.arange(2) + 0.5) * res
    grid = cube_grid(x, y, CRS.from_epsg(3035), "x", "y")
    assert grid_record(grid)["crs"] == "EPSG:3035" and exact_axes(grid).decimals == 0
    lon, lat = corner_lonlat(grid, 0, 2, 0, 3)
    assert lon.shape == (3, 4)
    assert 5 < lon.min() < lon.max() < 15 and 45 < lat.min() < lat.max() < 55
    assert lat[0, 0] > lat[-1, 0]  # row 0 is north
