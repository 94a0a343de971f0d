"""The grid as a frozen value object: shape, affine transform and CRS.

Two grids are equal (and hash equally) exactly when their shape, transform and CRS are equal, so
plans can be cached and compared by grid. Every operation returns a new grid; nothing mutates.
Only north-up, axis-aligned grids are modelled (b = d = 0); a source stored south-up (latitude
ascending) simply has a positive `e` (y step) and needs no flipping.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from .constants import GEOGRAPHIC_DIMS, PROJECTED_DIMS
from .errors import GridError

_REL_TOL = 1e-6


def parse_crs(value: str | int | CRS) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise GridError(f"unknown CRS {value!r}") from None


class Grid:
    """A regular raster grid; pixel (row, col) has its centre at transform * (col + 0.5, row + 0.5)."""

    __slots__ = ("__dict__", "crs", "height", "transform", "width")

    def __init__(self, width: int, height: int, transform: Affine, crs: str | int | CRS):
        if width < 1 or height < 1:
            raise GridError(f"grid shape must be positive, got {height}x{width}")
        if transform.b != 0 or transform.d != 0:
            raise GridError("rotated grids are not supported")
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "height", int(height))
        object.__setattr__(self, "transform", transform)
        object.__setattr__(self, "crs", parse_crs(crs))

    def __setattr__(self, name, value):
        if name in Grid.__slots__:
            raise AttributeError("Grid is immutable")
        object.__setattr__(self, name, value)

    # -- identity -----------------------------------------------------------------------------------
    def _key(self) -> tuple:
        return (self.width, self.height, tuple(round(v, 12) for v in self.transform[:6]), self.crs.to_wkt())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __dask_tokenize__(self) -> tuple:
        return ("cube_engine.Grid", *self._key())

    def __repr__(self) -> str:
        return (
            f"Grid({self.height}x{self.width}, res=({self.res_x:g}, {self.res_y:g}), "
            f"origin=({self.transform.c:g}, {self.transform.f:g}), crs={self.crs.to_string()})"
        )

    def __reduce__(self):
        return (Grid, (self.width, self.height, self.transform, self.crs.to_wkt()))

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_bbox(cls, bbox: tuple[float, float, float, float], resolution, crs) -> Grid:
        """North-up grid whose pixel edges span `bbox`; the bbox must be a whole number of pixels."""
        res_x, res_y = resolution if isinstance(resolution, tuple | list) else (resolution, resolution)
        xmin, ymin, xmax, ymax = bbox
        width, height = (xmax - xmin) / res_x, (ymax - ymin) / res_y
        for name, n in (("width", width), ("height", height)):
            if abs(n - round(n)) > 1e-6 * max(1.0, n):
                raise GridError(f"bbox {name} {n:g} pixels is not a whole number at resolution {resolution}")
        return cls(round(width), round(height), Affine(res_x, 0, xmin, 0, -res_y, ymax), crs)

    @classmethod
    def from_coords(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        crs: str | int | CRS,
        *,
        what: str = "grid",
        axes: tuple[str, str] = ("x/lon", "y/lat"),
    ) -> Grid:
        """Grid from 1-D pixel-centre coordinates (either direction); fails on irregular spacing,
        naming `what` and the axis (`axes`: how the caller's users know the x and y axes)."""
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        step_x = regular_step(x, f"{what} {axes[0]}")
        step_y = regular_step(y, f"{what} {axes[1]}")
        return cls(x.size, y.size, Affine(step_x, 0, x[0] - step_x / 2, 0, step_y, y[0] - step_y / 2), crs)

    # -- properties ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res_x(self) -> float:
        return abs(self.transform.a)

    @property
    def res_y(self) -> float:
        return abs(self.transform.e)

    @property
    def is_geographic(self) -> bool:
        return bool(self.crs.is_geographic)

    @property
    def dims(self) -> tuple[str, str]:
        """(y_dim, x_dim): ('lat', 'lon') for geographic CRSs, ('y', 'x') otherwise."""
        return GEOGRAPHIC_DIMS if self.is_geographic else PROJECTED_DIMS

    @cached_property
    def x(self) -> np.ndarray:
        return self.transform.c + (np.arange(self.width) + 0.5) * self.transform.a

    @cached_property
    def y(self) -> np.ndarray:
        return self.transform.f + (np.arange(self.height) + 0.5) * self.transform.e

    def x_edges(self) -> np.ndarray:
        return self.transform.c + np.arange(self.width + 1) * self.transform.a

    def y_edges(self) -> np.ndarray:
        return self.transform.f + np.arange(self.height + 1) * self.transform.e

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = (self.transform.c, self.transform.c + self.width * self.transform.a)
        ys = (self.transform.f, self.transform.f + self.height * self.transform.e)
        return (min(xs), min(ys), max(xs), max(ys))

    def window(self, rows: slice, cols: slice) -> Grid:
        """The sub-grid of a (row, col) window (a tile keeps the parent's pixel alignment)."""
        r0, r1, _ = rows.indices(self.height)
        c0, c1, _ = cols.indices(self.width)
        return Grid(c1 - c0, r1 - r0, self.transform @ Affine.translation(c0, r0), self.crs)

    def geographic_bounds(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) of the grid's footprint, densified edges."""
        if self.crs.equals(CRS.from_epsg(4326)):
            return self.bbox
        transformer = transformer_between(self.crs, CRS.from_epsg(4326))
        xmin, ymin, xmax, ymax = self.bbox
        return transformer.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21)


def regular_step(values: np.ndarray, what: str) -> float:
    """The signed step of evenly spaced 1-D pixel centres, or a GridError saying where the spacing
    varies. The one regularity rule of the project: the engine's grids, `validate` and the
    semantic loader's cells all depend on it, so they must agree on what "regular" means."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or values.size < 2:
        raise GridError(f"{what}: need at least two coordinates to find the resolution")
    steps = np.diff(values)
    step = (values[-1] - values[0]) / (values.size - 1)
    deviation = np.abs(steps - step)
    if step == 0 or np.max(deviation) > _REL_TOL * abs(step) * max(1, values.size) ** 0.5 + 1e-9:
        worst = int(np.argmax(deviation))
        raise GridError(
            f"{what} is not regular: spacing varies (expected {abs(step):.6g} everywhere, found "
            f"{abs(steps[worst]):.6g} between index {worst} and {worst + 1})"
        )
    return float(step)


def transformer_between(src: CRS, dst: CRS) -> Transformer:
    """A transformer that fails loudly instead of silently returning inf."""
    try:
        transformer = Transformer.from_crs(src, dst, always_xy=True)
    except (ProjError, CRSError) as exc:
        raise GridError(f"no transformation from {src.to_string()} to {dst.to_string()}: {exc}") from None
    return transformer


def crs_cf_attrs(crs: CRS) -> dict:
    """CF grid-mapping attributes for the scalar `crs` variable (plus GDAL's `spatial_ref`)."""
    attrs = {k: v for k, v in crs.to_cf().items() if v is not None}
    attrs["crs_wkt"] = crs.to_wkt()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    return {k: (float(v) if isinstance(v, float) and math.isfinite(v) else v) for k, v in attrs.items()}
