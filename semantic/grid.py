"""The cube's regular grid as a frozen value, and cell polygons computed from integer indices.

Why integers: a cube stores pixel centres as float64 (e.g. 10.005, 10.015, ...). Adding a float
resolution again and again accumulates noise (10.029999999999999), which then shows up in every WKT the
endpoint returns. We snap the outer edge and the resolution to the smallest number of decimals that
represents them, keep them as integers in units of 10**-decimals, and compute every edge as
`(origin + i * step) / 10**decimals`: one correctly rounded division, whose shortest repr is the decimal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
from pyproj import CRS, Transformer

from semantic.errors import CubeError, IrregularGridError

MAX_DECIMALS = 9
WGS84 = "EPSG:4326"


def _snap_decimals(value: float, tolerance: float) -> int:
    """Smallest number of decimals (<= MAX_DECIMALS) that represents `value` within `tolerance`."""
    for decimals in range(MAX_DECIMALS + 1):
        if abs(round(value, decimals) - value) <= tolerance:
            return decimals
    return MAX_DECIMALS


def _regular_axis(name: str, values: np.ndarray, *, descending: bool) -> tuple[float, float]:
    """(first edge, positive resolution) of a regular axis of pixel centres, or a one-line error."""
    if values.ndim != 1 or values.size < 2:
        raise IrregularGridError(
            f"coordinate {name!r} needs at least 2 values to define a grid, found {values.size}"
        )
    steps = np.diff(values.astype("float64"))
    step = (float(values[-1]) - float(values[0])) / (values.size - 1)
    if step == 0 or not np.all(np.abs(steps - step) <= 1e-6 * abs(step)):
        worst = int(np.argmax(np.abs(steps - step)))
        raise IrregularGridError(
            f"cube has no regular grid: {name!r} spacing varies (expected {abs(step):.6g} everywhere, "
            f"found {abs(steps[worst]):.6g} between index {worst} and {worst + 1})"
        )
    if descending and step > 0:
        raise CubeError(f"coordinate {name!r} must be descending (north-up), found ascending values")
    if not descending and step < 0:
        raise CubeError(f"coordinate {name!r} must be ascending, found descending values")
    res = abs(step)
    edge = float(values[0]) - step / 2
    return edge, res


@dataclass(frozen=True, slots=True)
class Grid:
    """A north-up regular grid: edges and resolution as integers in units of 10**-decimals.

    `x0` is the west edge of column 0, `y0` the north edge of row 0; `dx`, `dy` are positive steps.
    `crs` is the cube's CRS as given (an authority code when pyproj finds one, else WKT).
    """

    crs: str
    x_dim: str
    y_dim: str
    width: int
    height: int
    x0: int
    y0: int
    dx: int
    dy: int
    decimals: int

    @classmethod
    def from_coords(cls, x: np.ndarray, y: np.ndarray, crs: CRS, x_dim: str, y_dim: str) -> Grid:
        """Derive the grid from pixel-centre coordinates; irregular spacing is an error."""
        x_edge, x_res = _regular_axis(x_dim, np.asarray(x), descending=False)
        y_edge, y_res = _regular_axis(y_dim, np.asarray(y), descending=True)
        decimals = max(
            _snap_decimals(x_res, 1e-6 * x_res),
            _snap_decimals(y_res, 1e-6 * y_res),
            _snap_decimals(x_edge, 1e-4 * x_res),
            _snap_decimals(y_edge, 1e-4 * y_res),
        )
        scale = 10**decimals
        auth = crs.to_authority()
        return cls(
            crs=f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt(),
            x_dim=x_dim,
            y_dim=y_dim,
            width=int(np.asarray(x).size),
            height=int(np.asarray(y).size),
            x0=round(x_edge * scale),
            y0=round(y_edge * scale),
            dx=round(x_res * scale),
            dy=round(y_res * scale),
            decimals=decimals,
        )

    @property
    def pyproj_crs(self) -> CRS:
        return CRS.from_user_input(self.crs)

    @property
    def is_geographic(self) -> bool:
        return self.pyproj_crs.is_geographic

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict) -> Grid:
        return cls(**(json.loads(text) if isinstance(text, str) else text))

    def x_edges(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """West..east edges of columns start..stop (stop+1 values), exact decimals as float64."""
        stop = self.width if stop is None else stop
        i = np.arange(start, stop + 1, dtype=np.int64)
        return (self.x0 + i * self.dx) / float(10**self.decimals)

    def y_edges(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """North..south edges of rows start..stop (stop+1 values)."""
        stop = self.height if stop is None else stop
        j = np.arange(start, stop + 1, dtype=np.int64)
        return (self.y0 - j * self.dy) / float(10**self.decimals)

    def cell_ids(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Stable ids over the whole grid (row-major), so a bbox subset keeps the same ids."""
        return rows.astype(np.int64) * self.width + cols.astype(np.int64)

    def window_for_bbox(self, bbox: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1), half-open, of cells intersecting a lon/lat bbox (EPSG:4326)."""
        west, south, east, north = bbox
        if not self.is_geographic:
            to_grid = Transformer.from_crs(WGS84, self.pyproj_crs, always_xy=True)
            west, south, east, north = to_grid.transform_bounds(west, south, east, north, densify_pts=21)
        xs, ys = self.x_edges(), self.y_edges()
        col0 = int(np.searchsorted(xs, west, side="right")) - 1
        col1 = int(np.searchsorted(xs, east, side="left"))
        row0 = int(np.searchsorted(-ys, -north, side="right")) - 1
        row1 = int(np.searchsorted(-ys, -south, side="left"))
        col0, row0 = max(col0, 0), max(row0, 0)
        col1, row1 = min(col1, self.width), min(row1, self.height)
        return row0, row1, col0, col1

    def corner_lonlat(self, row0: int, row1: int, col0: int, col1: int) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat of the grid-line intersections of a window, shape (rows+1, cols+1).

        Projected grids transform the four corners of every cell (edges are not densified: at cube
        resolutions the curvature of a cell edge is far below a pixel).
        """
        xs = self.x_edges(col0, col1)
        ys = self.y_edges(row0, row1)
        xx, yy = np.meshgrid(xs, ys)
        if self.is_geographic:
            return xx, yy
        to_wgs84 = Transformer.from_crs(self.pyproj_crs, WGS84, always_xy=True)
        lon, lat = to_wgs84.transform(xx, yy)
        return np.round(lon, MAX_DECIMALS), np.round(lat, MAX_DECIMALS)
