"""Cells of a cube's grid from integer indices: functions over the shared `cube_engine.grid.Grid`.

Why integers: a cube stores pixel centres as float64 (e.g. 10.005, 10.015, ...). Adding a float
resolution again and again accumulates noise (10.029999999999999), which then shows up in every WKT the
endpoint returns. We snap the outer edge and the resolution to the smallest number of decimals that
represents them (`exact_axes`), keep them as integers in units of 10**-decimals, and compute every edge
as `(origin + i * step) / 10**decimals`: one correctly rounded division, whose shortest repr is the
decimal. `cube_grid` builds the grid from those integers, so a grid read back from the registry
(`grid_from_record`) is equal to the one the loader used.

The loader only takes north-up grids (x ascending, y descending): row 0 is the northern edge.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from cube_engine.errors import GridError
from cube_engine.grid import Grid
from semantic.errors import CubeError, IrregularGridError

MAX_DECIMALS = 9
WGS84 = "EPSG:4326"


class ExactAxes(NamedTuple):
    """The grid's west edge `x0`, north edge `y0` and positive steps `dx`, `dy` in 10**-decimals."""

    x0: int
    y0: int
    dx: int
    dy: int
    decimals: int


def _snap_decimals(value: float, tolerance: float) -> int:
    """Smallest number of decimals (<= MAX_DECIMALS) that represents `value` within `tolerance`."""
    for decimals in range(MAX_DECIMALS + 1):
        if abs(round(value, decimals) - value) <= tolerance:
            return decimals
    return MAX_DECIMALS


def exact_axes(grid: Grid) -> ExactAxes:
    """The grid's edges and steps as integers (a few float roundings: cheap enough per block)."""
    t = grid.transform
    x_edge, y_edge, x_res, y_res = t.c, t.f, abs(t.a), abs(t.e)
    decimals = max(
        _snap_decimals(x_res, 1e-6 * x_res),
        _snap_decimals(y_res, 1e-6 * y_res),
        _snap_decimals(x_edge, 1e-4 * x_res),
        _snap_decimals(y_edge, 1e-4 * y_res),
    )
    scale = 10**decimals
    return ExactAxes(
        round(x_edge * scale), round(y_edge * scale), round(x_res * scale), round(y_res * scale), decimals
    )


def _from_axes(width: int, height: int, axes: ExactAxes, crs: str | CRS) -> Grid:
    scale = float(10**axes.decimals)
    transform = Affine(axes.dx / scale, 0, axes.x0 / scale, 0, -axes.dy / scale, axes.y0 / scale)
    return Grid(width, height, transform, crs)


def cube_grid(x: np.ndarray, y: np.ndarray, crs: CRS, x_dim: str, y_dim: str) -> Grid:
    """The north-up grid of pixel-centre coordinates, snapped to exact decimals; one-line errors
    for irregular spacing (IrregularGridError) or the wrong direction (CubeError)."""
    try:
        grid = Grid.from_coords(x, y, crs, what="coordinate", axes=(repr(x_dim), repr(y_dim)))
    except GridError as exc:
        raise IrregularGridError(f"cube has no regular grid: {exc}") from None
    if grid.transform.e > 0:
        raise CubeError(f"coordinate {y_dim!r} must be descending (north-up), found ascending values")
    if grid.transform.a < 0:
        raise CubeError(f"coordinate {x_dim!r} must be ascending, found descending values")
    return _from_axes(grid.width, grid.height, exact_axes(grid), grid.crs)


def crs_label(grid: Grid) -> str:
    """The CRS as the registry stores it: an authority code when pyproj finds one, else WKT."""
    auth = grid.crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else grid.crs.to_wkt()


def grid_record(grid: Grid) -> dict[str, Any]:
    """The registry's JSON form of a grid (integers: it compares exactly between loads)."""
    y_dim, x_dim = grid.dims
    return {
        "crs": crs_label(grid),
        "x_dim": x_dim,
        "y_dim": y_dim,
        "width": grid.width,
        "height": grid.height,
        **exact_axes(grid)._asdict(),
    }


def grid_from_record(record: str | dict[str, Any]) -> Grid:
    """The grid of a registry record (`grid_record`), as JSON text or already decoded."""
    data = json.loads(record) if isinstance(record, str) else record
    axes = ExactAxes(data["x0"], data["y0"], data["dx"], data["dy"], data["decimals"])
    return _from_axes(data["width"], data["height"], axes, data["crs"])


def exact_x_edges(grid: Grid, start: int = 0, stop: int | None = None) -> np.ndarray:
    """West..east edges of columns start..stop (stop+1 values), exact decimals as float64."""
    axes = exact_axes(grid)
    stop = grid.width if stop is None else stop
    i = np.arange(start, stop + 1, dtype=np.int64)
    return (axes.x0 + i * axes.dx) / float(10**axes.decimals)


def exact_y_edges(grid: Grid, start: int = 0, stop: int | None = None) -> np.ndarray:
    """North..south edges of rows start..stop (stop+1 values)."""
    axes = exact_axes(grid)
    stop = grid.height if stop is None else stop
    j = np.arange(start, stop + 1, dtype=np.int64)
    return (axes.y0 - j * axes.dy) / float(10**axes.decimals)


def cell_ids(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Stable ids over the whole grid (row-major), so a bbox subset keeps the same ids."""
    return rows.astype(np.int64) * grid.width + cols.astype(np.int64)


def window_for_bbox(grid: Grid, bbox: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1), half-open, of cells intersecting a lon/lat bbox (EPSG:4326)."""
    west, south, east, north = bbox
    if not grid.is_geographic:
        to_grid = Transformer.from_crs(WGS84, grid.crs, always_xy=True)
        west, south, east, north = to_grid.transform_bounds(west, south, east, north, densify_pts=21)
    xs, ys = exact_x_edges(grid), exact_y_edges(grid)
    col0 = int(np.searchsorted(xs, west, side="right")) - 1
    col1 = int(np.searchsorted(xs, east, side="left"))
    row0 = int(np.searchsorted(-ys, -north, side="right")) - 1
    row1 = int(np.searchsorted(-ys, -south, side="left"))
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, grid.width), min(row1, grid.height)
    return row0, row1, col0, col1


def corner_lonlat(grid: Grid, row0: int, row1: int, col0: int, col1: int) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the grid-line intersections of a window, shape (rows+1, cols+1).

    Projected grids transform the four corners of every cell (edges are not densified: at cube
    resolutions the curvature of a cell edge is far below a pixel).
    """
    xx, yy = np.meshgrid(exact_x_edges(grid, col0, col1), exact_y_edges(grid, row0, row1))
    if grid.is_geographic:
        return xx, yy
    to_wgs84 = Transformer.from_crs(grid.crs, WGS84, always_xy=True)
    lon, lat = to_wgs84.transform(xx, yy)
    return np.round(lon, MAX_DECIMALS), np.round(lat, MAX_DECIMALS)
