"""The resampling plan of one source: how its grid maps onto the target grid, per output tile.

Same CRS -> the mapping is separable: 1-D fractional source positions per target row and column
(flipped or offset sources need nothing special, the signed step handles them).
Different CRS -> target pixel centres are transformed to the source CRS with pyproj, giving 2-D
position fields. `nearest` and `bilinear` then sample the source exactly at those positions.
`block_mean` and `mode` under reprojection are an approximation, exactly this: the source is cut
into k x k blocks aligned to its own grid (k = the pixel-size ratio target/source, geometric mean of
both axes at the grid's median, rounded to an integer; k = 1 when the target is not coarser), each
block is reduced NaN-aware (mean, or most frequent class with ties to the smallest), and each target
pixel takes the block that contains its centre. So the value comes from a k x k patch of source
pixels near, but in general not centred on, the target pixel, which covers roughly (k * source
pixel)^2 rather than the target pixel's reprojected footprint: for smooth fields the difference
from the exact footprint mean is up to about (k / 2 source pixels) x the local gradient. (On the same
CRS, block mean / mode are exact: the source pixels whose centres fall in the target pixel.)

Nothing here is sized by the whole target grid: positions are computed for the rows and columns a
call asks for (a tile, a band) and memoised per tile in bounded, thread-safe LRUs, so planning a
global 0.001 degree grid costs what planning one tile does. Every position is computed point by
point, so a tile's positions are bit for bit the ones a whole-grid computation would give.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS
from pyproj.exceptions import ProjError

from .errors import GridError
from .grid import Grid, transformer_between
from .lru import LockedLRU
from .resample import (
    AxisOp,
    axis_op,
    coarsen,
    nearest_op,
    read_window_2d,
    resample_points,
    resample_separable,
)

Window = tuple[slice, slice]
_PIECE = 256  # reprojection: positions are computed in pieces of at most _PIECE x _PIECE pixels
_SCALE_SAMPLES = 128  # rows and columns sampled for the pixel-size ratio (all of them up to this)
_AXIS_BLOCK = 65536  # separable overlap test: target positions per block
_POSITIONS_BYTES = 64 * 2**20  # memoised reprojection positions per plan


def _centres(origin: float, step: float, index: np.ndarray) -> np.ndarray:
    """Pixel-centre coordinates of pixel indices (over a range, the same values as Grid.x / Grid.y)."""
    return origin + (index + 0.5) * step


def _edges(origin: float, step: float, start: int, stop: int) -> np.ndarray:
    """Pixel-edge coordinates of edges [start, stop] (the same values as Grid.x_edges())."""
    return origin + np.arange(start, stop + 1) * step


@dataclass(frozen=True, eq=False)
class SourcePlan:
    """How one source grid maps onto the target grid (see SeparablePlan, ReprojectedPlan)."""

    source: Grid
    target: Grid
    scale: float = 1.0  # target pixel size / source pixel size (geometric mean over axes)

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
        return 1

    def overlaps(self) -> bool:
        raise NotImplementedError

    def read_window(self, method: str, rows: slice, cols: slice) -> Window | None:
        """The source pixel window a target tile needs, or None when the tile misses the source."""
        raise NotImplementedError

    def tile_windows(self, method: str, rows: Sequence[slice], cols: Sequence[slice]) -> np.ndarray:
        """The windows of every tile rows[i] x cols[j] at once, for sizing bands over a whole grid of
        tiles: int64 (len(rows), len(cols), 4) of (y0, y1, x0, x1), all 0 (empty) where the tile
        misses the source (a tile that hits it never has an empty window). Tile by tile here."""
        out = np.zeros((len(rows), len(cols), 4), dtype="int64")
        for i, tile_rows in enumerate(rows):
            for j, tile_cols in enumerate(cols):
                window = self.read_window(method, tile_rows, tile_cols)
                if window is not None:
                    out[i, j] = (window[0].start, window[0].stop, window[1].start, window[1].stop)
        return out

    def resample_window(self, cut: np.ndarray, method: str, rows: slice, cols: slice, window: Window):
        """Resample (..., wy, wx) source data cut to `window` onto the target tile (rows, cols)."""
        raise NotImplementedError

    def resample(self, data: np.ndarray, method: str, rows: slice, cols: slice) -> np.ndarray:
        """Convenience for whole in-memory sources (tests, small layers)."""
        window = self.read_window(method, rows, cols)
        shape = (*data.shape[:-2], rows.stop - rows.start, cols.stop - cols.start)
        if window is None:
            return np.full(shape, np.nan, dtype="float32")
        return self.resample_window(data[..., window[0], window[1]], method, rows, cols, window)


def _new_ops() -> LockedLRU:
    return LockedLRU(4096)


@dataclass(frozen=True, eq=False)
class SeparablePlan(SourcePlan):
    """Same CRS: one 1-D operator per axis and tile, computed from the two affine transforms."""

    _ops: LockedLRU = field(default_factory=_new_ops, repr=False)

    def _positions(self, axis: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Fractional source positions of target centres [start, stop) and edges [start, stop]."""
        t, s = self.target.transform, self.source.transform
        if axis == "x":
            centres, edges = _centres(t.c, t.a, np.arange(start, stop)), _edges(t.c, t.a, start, stop)
            return (centres - s.c) / s.a, (edges - s.c) / s.a
        centres, edges = _centres(t.f, t.e, np.arange(start, stop)), _edges(t.f, t.e, start, stop)
        return (centres - s.f) / s.e, (edges - s.f) / s.e

    def _axis_op(self, method: str, axis: str, span: slice) -> AxisOp | None:
        """One axis' operator: it depends on that axis' range only, so every tile of a row (or a
        column) of tiles shares it."""
        size = self.source.height if axis == "y" else self.source.width
        return self._ops.get(
            (method, axis, span.start, span.stop),
            lambda: axis_op(method, *self._positions(axis, span.start, span.stop), size),
        )

    def _axis_ops(self, method: str, rows: slice, cols: slice) -> tuple[AxisOp, AxisOp] | None:
        op_y, op_x = self._axis_op(method, "y", rows), self._axis_op(method, "x", cols)
        return None if op_y is None or op_x is None else (op_y, op_x)

    def overlaps(self) -> bool:
        """Whether some target pixel centre falls in the source: per axis, in bounded blocks."""
        for axis, n, size in (
            ("y", self.source.height, self.target.height),
            ("x", self.source.width, self.target.width),
        ):
            hit = False
            for start in range(0, size, _AXIS_BLOCK):
                centres, _ = self._positions(axis, start, min(start + _AXIS_BLOCK, size))
                if nearest_op(centres, n) is not None:
                    hit = True
                    break
            if not hit:
                return False
        return True

    def read_window(self, method: str, rows: slice, cols: slice) -> Window | None:
        ops = self._axis_ops(self.resolve_method(method), rows, cols)
        if ops is None:
            return None
        return slice(ops[0].lo, ops[0].hi), slice(ops[1].lo, ops[1].hi)

    def tile_windows(self, method: str, rows: Sequence[slice], cols: Sequence[slice]) -> np.ndarray:
        """A tile's window is its row's span times its column's span: one operator per tile row and
        per tile column, not per tile, so a grid of millions of tiles costs thousands of operators."""
        method = self.resolve_method(method)

        def spans(axis: str, tiles: Sequence[slice]) -> np.ndarray:
            found = np.zeros((len(tiles), 2), dtype="int64")
            for k, span in enumerate(tiles):
                op = self._axis_op(method, axis, span)
                if op is not None:
                    found[k] = (op.lo, op.hi)
            return found

        ys, xs = spans("y", rows), spans("x", cols)
        out = np.zeros((len(rows), len(cols), 4), dtype="int64")
        out[..., :2], out[..., 2:] = ys[:, None], xs[None]
        out[(ys[:, 1] == ys[:, 0])[:, None] | (xs[:, 1] == xs[:, 0])[None]] = 0
        return out

    def resample_window(self, cut: np.ndarray, method: str, rows: slice, cols: slice, window: Window):
        method = self.resolve_method(method)
        op_y, op_x = self._axis_ops(method, rows, cols)
        return resample_separable(cut, op_y, op_x, method)


@functools.lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_wkt: str):
    """One pyproj Transformer per CRS pair and process (pyproj >= 3.1 Transformers are thread-safe)."""
    return transformer_between(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt))


def _no_transformation(plan: SourcePlan) -> str:
    return f"no transformation from {plan.target.crs.to_string()} to {plan.source.crs.to_string()}"


def _nbytes(positions: tuple[np.ndarray, np.ndarray]) -> int:
    return positions[0].nbytes + positions[1].nbytes


def _new_windows() -> LockedLRU:
    return LockedLRU(16384)


def _new_positions() -> LockedLRU:
    return LockedLRU(_POSITIONS_BYTES, _nbytes)


@dataclass(frozen=True, eq=False)
class ReprojectedPlan(SourcePlan):
    """Different CRSs: 2-D position fields per tile, transformed from the target's pixel centres."""

    _windows: LockedLRU = field(default_factory=_new_windows, repr=False)
    _positions_memo: LockedLRU = field(default_factory=_new_positions, repr=False)

    @property
    def coarsen_factor(self) -> int:
        return max(1, round(self.scale))

    def _wkts(self) -> tuple[str, str]:
        return self.target.crs.to_wkt(), self.source.crs.to_wkt()

    def positions(self, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """(fy, fx): fractional source pixel-edge positions of the target centres of the tile."""
        return self._positions_memo.get(
            (rows.start, rows.stop, cols.start, cols.stop), lambda: self._compute(rows, cols)
        )

    def _compute(self, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        return self.source_positions(np.arange(rows.start, rows.stop), np.arange(cols.start, cols.stop))

    def source_positions(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fy, fx): fractional source positions of the centres of target pixels rows x cols (index
        arrays; a 2-D lattice, not necessarily contiguous). The one place target centres meet PROJ,
        so a tile, a piece and the scale's sample lattice get the same values for the same pixel;
        a GridError when PROJ has no transformation between the two CRSs."""
        t, s = self.target.transform, self.source.transform
        xx, yy = np.meshgrid(_centres(t.c, t.a, cols), _centres(t.f, t.e, rows))
        try:
            sx, sy = _transformer(*self._wkts()).transform(xx.ravel(), yy.ravel(), errcheck=False)
        except ProjError as exc:
            raise GridError(f"{_no_transformation(self)}: {exc}") from None
        fx = ((np.asarray(sx, dtype="float64") - s.c) / s.a).reshape(xx.shape)
        fy = ((np.asarray(sy, dtype="float64") - s.f) / s.e).reshape(xx.shape)
        return fy, fx

    def _pieces(self, rows: slice, cols: slice):
        for r in range(rows.start, rows.stop, _PIECE):
            for c in range(cols.start, cols.stop, _PIECE):
                yield slice(r, min(r + _PIECE, rows.stop)), slice(c, min(c + _PIECE, cols.stop))

    def _window(self, margin: int, rows: slice, cols: slice) -> tuple[int, int, int, int] | None:
        """The hull of the pieces' windows: windows compose by union (see `read_window_2d`), so
        however a region is cut, its window is the same."""
        found = None
        for piece_rows, piece_cols in self._pieces(rows, cols):
            if (piece_rows, piece_cols) == (rows, cols):
                fy, fx = self.positions(rows, cols)
            else:
                fy, fx = self._compute(piece_rows, piece_cols)
            window = read_window_2d(fy, fx, self.source.height, self.source.width, margin=margin)
            if window is None:
                continue
            if found is None:
                found = window
            else:
                found = (
                    min(found[0], window[0]),
                    max(found[1], window[1]),
                    min(found[2], window[2]),
                    max(found[3], window[3]),
                )
        return found

    def read_window(self, method: str, rows: slice, cols: slice) -> Window | None:
        method = self.resolve_method(method)
        k = self.coarsen_factor if method in ("block_mean", "mode") else 1
        key = (k, rows.start, rows.stop, cols.start, cols.stop)
        window = self._windows.get(key, lambda: self._window(k + 1, rows, cols))
        if window is None:
            return None
        y0, y1, x0, x1 = window
        if k > 1:  # align to whole coarsening blocks
            y0, x0 = (y0 // k) * k, (x0 // k) * k
            y1, x1 = min(-(-y1 // k) * k, self.source.height), min(-(-x1 // k) * k, self.source.width)
        return slice(y0, y1), slice(x0, x1)

    def _footprint_blocks(self) -> tuple[range, range] | None:
        """Block rows and columns (of _PIECE pixels) near the source's footprint in the target: its
        outline and an interior lattice transformed to the target, grown by a block; None when
        no point transforms."""
        s, t = self.source.transform, self.target.transform
        lattice = np.linspace(0.0, 1.0, 65)
        uu, vv = np.meshgrid(lattice * self.source.width, lattice * self.source.height)
        sx, sy = s.c + uu.ravel() * s.a, s.f + vv.ravel() * s.e
        try:
            tx, ty = _transformer(self.source.crs.to_wkt(), self.target.crs.to_wkt()).transform(
                sx, sy, errcheck=False
            )
        except ProjError:
            return None
        col = (np.asarray(tx, dtype="float64") - t.c) / t.a
        row = (np.asarray(ty, dtype="float64") - t.f) / t.e
        ok = np.isfinite(col) & np.isfinite(row)
        if not ok.any():
            return None
        n_rows, n_cols = -(-self.target.height // _PIECE), -(-self.target.width // _PIECE)

        def blocks(lo: float, hi: float, n: int) -> range:
            first = int(min(max(np.floor(lo / _PIECE) - 1, 0), n))
            return range(first, int(min(max(np.floor(hi / _PIECE) + 2, first), n)))

        return blocks(row[ok].min(), row[ok].max(), n_rows), blocks(col[ok].min(), col[ok].max(), n_cols)

    def _search_order(self) -> Iterator[tuple[slice, slice]]:
        """Every target block of _PIECE x _PIECE once, those near the source's footprint first: the
        estimate orders the overlap search, it never decides its answer."""
        h, w = self.target.height, self.target.width

        def block(i: int, j: int) -> tuple[slice, slice]:
            return slice(i * _PIECE, min((i + 1) * _PIECE, h)), slice(j * _PIECE, min((j + 1) * _PIECE, w))

        near = self._footprint_blocks()
        if near is not None:
            for i in near[0]:
                for j in near[1]:
                    yield block(i, j)
        for i in range(-(-h // _PIECE)):
            for j in range(-(-w // _PIECE)):
                if near is None or not (i in near[0] and j in near[1]):
                    yield block(i, j)

    def overlaps(self) -> bool:
        return any(self._window(2, rows, cols) is not None for rows, cols in self._search_order())

    def resample_window(self, cut: np.ndarray, method: str, rows: slice, cols: slice, window: Window):
        method = self.resolve_method(method)
        fy, fx = self.positions(rows, cols)
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


def _sample(n: int) -> np.ndarray:
    """Every index up to _SCALE_SAMPLES, else that many spread evenly (first and last included)."""
    if n <= _SCALE_SAMPLES:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, _SCALE_SAMPLES).round().astype("int64"))


def _reprojection_scale(plan: ReprojectedPlan) -> float:
    """Pixel-size ratio: the median length of one target pixel step in source pixels, over every
    row and column of grids up to _SCALE_SAMPLES a side (the whole grid) and over that many evenly
    spread ones beyond. A GridError when no target pixel has a position in the source CRS."""
    target = plan.target
    rows, cols = _sample(target.height), _sample(target.width)
    # The lattice of sampled pixels and their right and lower neighbours.
    lat_rows = np.unique(np.concatenate([rows, rows[rows + 1 < target.height] + 1]))
    lat_cols = np.unique(np.concatenate([cols, cols[cols + 1 < target.width] + 1]))
    fy, fx = plan.source_positions(lat_rows, lat_cols)
    if not (np.isfinite(fx) & np.isfinite(fy)).any():
        raise GridError(_no_transformation(plan))
    if target.width <= 1 or target.height <= 1:
        return 1.0
    ri = np.searchsorted(lat_rows, rows)
    ci = np.searchsorted(lat_cols, cols)
    right = ci[cols + 1 < target.width]
    down = ri[rows + 1 < target.height]
    with np.errstate(invalid="ignore"):  # positions outside the projection's domain are inf
        dx = np.hypot(
            fx[np.ix_(ri, right + 1)] - fx[np.ix_(ri, right)],
            fy[np.ix_(ri, right + 1)] - fy[np.ix_(ri, right)],
        )
        dy = np.hypot(
            fx[np.ix_(down + 1, ci)] - fx[np.ix_(down, ci)], fy[np.ix_(down + 1, ci)] - fy[np.ix_(down, ci)]
        )
    finite = np.concatenate([dx[np.isfinite(dx)], dy[np.isfinite(dy)]])
    return float(np.median(finite)) if finite.size else 1.0


def plan_source(source: Grid, target: Grid) -> SourcePlan:
    """The plan of `source` onto `target`; nothing proportional to the target grid is computed."""
    if source.crs.equals(target.crs):
        t, s = target.transform, source.transform
        return SeparablePlan(source, target, float(np.sqrt(abs(t.a * t.e) / abs(s.a * s.e))))
    plan = ReprojectedPlan(source, target)
    return ReprojectedPlan(source, target, _reprojection_scale(plan))
