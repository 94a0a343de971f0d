"""The resampling plan: computed once per source from the two grids, then used per output tile.

Same CRS -> the mapping is separable: 1-D fractional source positions per target column and row
(flipped or offset sources need nothing special, the signed step handles them).
Different CRS -> target pixel centres are transformed to the source CRS with pyproj once, giving
2-D position fields. `nearest` and `bilinear` then sample the source exactly at those positions.
`block_mean` and `mode` under reprojection are an approximation, exactly this: the source is cut
into k x k blocks aligned to its own grid (k = the pixel-size ratio target/source, geometric mean of
both axes at the grid's median, rounded to an integer; k = 1 when the target is not coarser), each
block is reduced NaN-aware (mean, or most frequent class with ties to the smallest), and each target
pixel takes the block that contains its centre. So the value comes from a k x k patch of source
pixels near, but in general not centred on, the target pixel, which covers roughly (k * source
pixel)^2 rather than the target pixel's reprojected footprint: for smooth fields the difference
from the exact footprint mean is up to about (k / 2 source pixels) x the local gradient. (On the same
CRS, block mean / mode are exact: the source pixels whose centres fall in the target pixel.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import GridError
from .grid import Grid, transform_points
from .resample import (
    AxisOp,
    axis_op,
    coarsen,
    read_window_2d,
    resample_points,
    resample_separable,
)

Window = tuple[slice, slice]


@dataclass(eq=False)
class SourcePlan:
    """How one source grid maps onto the target grid."""

    source: Grid
    target: Grid
    separable: bool
    fx_centres: np.ndarray | None = None
    fy_centres: np.ndarray | None = None
    fx_edges: np.ndarray | None = None
    fy_edges: np.ndarray | None = None
    fx_2d: np.ndarray | None = None
    fy_2d: np.ndarray | None = None
    scale: float = 1.0  # target pixel size / source pixel size (geometric mean over axes)
    _ops: dict = field(default_factory=dict, repr=False)

    # -- method choice ------------------------------------------------------------------------------
    def resolve_method(self, method: str) -> str:
        if method != "auto":
            return method
        if self.scale > 1 + 1e-6:
            return "block_mean"
        if self.scale < 1 - 1e-6:
            return "bilinear"
        return "nearest"

    @property
    def coarsen_factor(self) -> int:
        return max(1, round(self.scale)) if not self.separable else 1

    def overlaps(self) -> bool:
        return (
            self.read_window("nearest", slice(0, self.target.height), slice(0, self.target.width)) is not None
        )

    # -- separable ----------------------------------------------------------------------------------
    def _axis_ops(self, method: str, rows: slice, cols: slice) -> tuple[AxisOp, AxisOp] | None:
        key = (method, rows.start, rows.stop, cols.start, cols.stop)
        if key not in self._ops:
            op_y = axis_op(
                method, self.fy_centres[rows], self.fy_edges[rows.start : rows.stop + 1], self.source.height
            )
            op_x = axis_op(
                method, self.fx_centres[cols], self.fx_edges[cols.start : cols.stop + 1], self.source.width
            )
            if len(self._ops) > 4096:
                self._ops.clear()
            self._ops[key] = None if op_y is None or op_x is None else (op_y, op_x)
        return self._ops[key]

    # -- public -------------------------------------------------------------------------------------
    def read_window(self, method: str, rows: slice, cols: slice) -> Window | None:
        """The source pixel window a target tile needs, or None when the tile misses the source."""
        method = self.resolve_method(method)
        if self.separable:
            ops = self._axis_ops(method, rows, cols)
            if ops is None:
                return None
            return slice(ops[0].lo, ops[0].hi), slice(ops[1].lo, ops[1].hi)
        k = self.coarsen_factor if method in ("block_mean", "mode") else 1
        window = read_window_2d(
            self.fy_2d[rows, cols],
            self.fx_2d[rows, cols],
            self.source.height,
            self.source.width,
            margin=k + 1,
        )
        if window is None:
            return None
        y0, y1, x0, x1 = window
        if k > 1:  # align to whole coarsening blocks
            y0, x0 = (y0 // k) * k, (x0 // k) * k
            y1, x1 = min(-(-y1 // k) * k, self.source.height), min(-(-x1 // k) * k, self.source.width)
        return slice(y0, y1), slice(x0, x1)

    def resample_window(self, cut: np.ndarray, method: str, rows: slice, cols: slice, window: Window):
        """Resample (..., wy, wx) source data cut to `window` onto the target tile (rows, cols)."""
        method = self.resolve_method(method)
        if self.separable:
            op_y, op_x = self._axis_ops(method, rows, cols)
            return resample_separable(cut, op_y, op_x, method)
        fy, fx = self.fy_2d[rows, cols], self.fx_2d[rows, cols]
        k = self.coarsen_factor
        if method in ("block_mean", "mode") and k > 1:
            cut = coarsen(cut, k, method)
            n_full = (-(-self.source.height // k), -(-self.source.width // k))
            return resample_points(
                cut, fy / k, fx / k, "nearest", n_full, (window[0].start // k, window[1].start // k)
            )
        point_method = "nearest" if method in ("nearest", "mode", "block_mean") else "bilinear"
        return resample_points(
            cut, fy, fx, point_method, self.source.shape, (window[0].start, window[1].start)
        )

    def resample(self, data: np.ndarray, method: str, rows: slice, cols: slice) -> np.ndarray:
        """Convenience for whole in-memory sources (tests, small layers)."""
        window = self.read_window(method, rows, cols)
        shape = (*data.shape[:-2], rows.stop - rows.start, cols.stop - cols.start)
        if window is None:
            return np.full(shape, np.nan, dtype="float32")
        return self.resample_window(data[..., window[0], window[1]], method, rows, cols, window)


def plan_source(source: Grid, target: Grid) -> SourcePlan:
    """Compute the position fields of `target` in `source` pixel coordinates (once per source)."""
    if source.crs.equals(target.crs):
        t, s = target.transform, source.transform
        return SourcePlan(
            source,
            target,
            True,
            fx_centres=(target.x - s.c) / s.a,
            fy_centres=(target.y - s.f) / s.e,
            fx_edges=(target.x_edges() - s.c) / s.a,
            fy_edges=(target.y_edges() - s.f) / s.e,
            scale=float(np.sqrt(abs(t.a * t.e) / abs(s.a * s.e))),
        )
    xx, yy = np.meshgrid(target.x, target.y)
    sx, sy = transform_points(target.crs, source.crs, xx.ravel(), yy.ravel())
    s = source.transform
    fx = ((sx - s.c) / s.a).reshape(target.shape)
    fy = ((sy - s.f) / s.e).reshape(target.shape)
    if not (np.isfinite(fx) & np.isfinite(fy)).any():
        raise GridError(f"no transformation from {target.crs.to_string()} to {source.crs.to_string()}")
    # Pixel-size ratio from the position field's local derivatives (median over the grid).
    scale = 1.0
    if target.width > 1 and target.height > 1:
        dx = np.hypot(np.diff(fx, axis=1), np.diff(fy, axis=1))
        dy = np.hypot(np.diff(fx, axis=0), np.diff(fy, axis=0))
        finite = np.concatenate([dx[np.isfinite(dx)], dy[np.isfinite(dy)]])
        if finite.size:
            scale = float(np.median(finite))
    return SourcePlan(source, target, False, fx_2d=fx, fy_2d=fy, scale=scale)
