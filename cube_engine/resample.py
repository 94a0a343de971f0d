"""Resampling kernels: pure numpy functions over planned index windows.

Every spatial method except `mode` is a linear operator on the source pixels. We apply it to two
arrays at once — the values with NaN replaced by 0 (`num`) and the validity mask (`den`) — and divide
at the end. That makes each method NaN-aware with one rule: a target pixel is NaN only when all of
its inputs (the source pixels with non-zero weight) are NaN.

Positions are *fractional pixel-edge coordinates* of the source: f = 0 is the first pixel's outer
edge, f = 0.5 its centre, f = n the far edge. They are computed once per source by the planner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-6  # positions are rounded to this so that exact grid alignments stay exact


@dataclass(frozen=True)
class AxisOp:
    """A 1-D linear operator along one axis, in source indices local to the read window `lo:hi`.

    kind "take": out[i] = a[i0[i]]; "linear": out[i] = a[i0]*(1-w) + a[i1]*w;
    "window": out[i] = sum(a[i0[i]:i1[i]]). `valid` is False where the target is outside the source.
    """

    kind: str
    i0: np.ndarray
    i1: np.ndarray | None
    w: np.ndarray | None
    valid: np.ndarray
    lo: int
    hi: int


def _round(f: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(f, dtype="float64") / _EPS) * _EPS


def nearest_op(f_centres: np.ndarray, n: int) -> AxisOp | None:
    """The source pixel containing each target centre."""
    f = _round(f_centres)
    valid = (f >= 0) & (f < n)
    if not valid.any():
        return None
    idx = np.clip(np.floor(f).astype("int64"), 0, n - 1)
    lo, hi = int(idx[valid].min()), int(idx[valid].max()) + 1
    return AxisOp("take", np.clip(idx - lo, 0, hi - lo - 1), None, None, valid, lo, hi)


def bilinear_op(f_centres: np.ndarray, n: int) -> AxisOp | None:
    """Linear interpolation between the two nearest source centres; inside the source footprint but
    beyond the outermost centres the edge value is held (as scipy's mode='nearest')."""
    f = _round(f_centres)
    valid = (f >= 0) & (f <= n)
    if not valid.any():
        return None
    u = np.clip(f - 0.5, 0, n - 1)
    i0 = np.clip(np.floor(u).astype("int64"), 0, max(n - 2, 0))
    w = (u - i0).astype("float32")
    i1 = np.minimum(i0 + 1, n - 1)
    lo, hi = int(i0[valid].min()), int(i1[valid].max()) + 1
    clip = hi - lo - 1
    return AxisOp("linear", np.clip(i0 - lo, 0, clip), np.clip(i1 - lo, 0, clip), w, valid, lo, hi)


def window_op(f_edges: np.ndarray, n: int) -> AxisOp | None:
    """The source pixels whose centres fall inside each target pixel (block mean / mode). A target
    pixel smaller than a source pixel may contain no centre: it then takes the pixel under its centre."""
    f = _round(f_edges)
    lo_f, hi_f = np.minimum(f[:-1], f[1:]), np.maximum(f[:-1], f[1:])
    start = np.clip(np.ceil(lo_f - 0.5), 0, n).astype("int64")
    stop = np.clip(np.ceil(hi_f - 0.5), 0, n).astype("int64")
    centre = (lo_f + hi_f) / 2
    empty = stop <= start
    inside = (centre >= 0) & (centre < n)
    fallback = np.clip(np.floor(centre).astype("int64"), 0, n - 1)
    start = np.where(empty, fallback, start)
    stop = np.where(empty, fallback + 1, stop)
    valid = ~empty | inside
    start, stop = np.where(valid, start, 0), np.where(valid, stop, 0)
    if not valid.any():
        return None
    lo, hi = int(start[valid].min()), int(stop[valid].max())
    return AxisOp(
        "window", np.clip(start - lo, 0, hi - lo), np.clip(stop - lo, 0, hi - lo), None, valid, lo, hi
    )


def axis_op(method: str, f_centres: np.ndarray, f_edges: np.ndarray, n: int) -> AxisOp | None:
    if method == "nearest":
        return nearest_op(f_centres, n)
    if method == "bilinear":
        return bilinear_op(f_centres, n)
    if method in ("block_mean", "mode"):
        return window_op(f_edges, n)
    raise ValueError(f"unknown resampling method {method!r}")


def _contiguous(index: np.ndarray) -> bool:
    return index.size > 0 and bool(np.all(np.diff(index) == 1))


def _window_sum(a: np.ndarray, start: np.ndarray, stop: np.ndarray, axis: int) -> np.ndarray:
    """Sum of a[start[i]:stop[i]] along `axis`; empty windows give 0. Unsigned integer input (a
    validity mask as counts) is summed exactly in uint16 on the uniform path below, float32 otherwise."""
    used = stop > start
    idx = np.flatnonzero(used)
    if idx.size and _contiguous(idx):
        s, e = start[idx], stop[idx]
        k, m = int(e[0] - s[0]), idx.size
        if k > 0 and np.all(e - s == k) and np.all(s == s[0] + k * np.arange(m)):
            # Uniform, contiguous windows (integer factors): exact sums, no cumsum round-off. Up to 16
            # the k strided views are added in order (numpy's reduction over a length-k axis is 12x
            # slower along the last axis); the order is the same as a sequential sum.
            if k <= 16:
                index = [slice(None)] * a.ndim
                parts = []
                for j in range(k):
                    index[axis] = slice(int(s[0]) + j, int(e[-1]), k)
                    parts.append(a[tuple(index)])
                small = a.dtype.kind == "u" and a.itemsize <= 2
                dtype = np.dtype("uint16" if small else "float32")
                if k > 1 and (a.dtype == dtype or small):  # same values as copying parts[0], adding
                    summed = np.add(parts[0], parts[1], dtype=dtype)  # (integer counts are exact)
                    rest = parts[2:]
                else:
                    summed = parts[0].astype(dtype, copy=True)
                    rest = parts[1:]
                for part in rest:
                    np.add(summed, part, out=summed)
            else:
                part = np.take(a, np.arange(s[0], e[-1]), axis=axis)
                shape = (*part.shape[:axis], m, k, *part.shape[axis + 1 :])
                summed = part.reshape(shape).sum(axis=axis + 1, dtype="float64")
            if m == start.size:
                return summed
            out_shape = list(summed.shape)
            out_shape[axis] = start.size
            out = np.zeros(out_shape, dtype=summed.dtype)
            index = [slice(None)] * a.ndim
            index[axis] = slice(int(idx[0]), int(idx[-1]) + 1)
            out[tuple(index)] = summed
            return out
    cs = np.cumsum(a, axis=axis, dtype="float64")
    pad = [(0, 0)] * a.ndim
    pad[axis] = (1, 0)
    cs = np.pad(cs, pad)
    return np.take(cs, np.where(used, stop, 0), axis=axis) - np.take(cs, np.where(used, start, 0), axis=axis)


def apply_axis(a: np.ndarray, op: AxisOp, axis: int) -> np.ndarray:
    """Apply a linear axis operator to `a` (already cut to the op's read window along `axis`)."""
    if op.kind == "take":
        if _contiguous(op.i0):  # equal resolution: a plain window cut, no gather
            index = [slice(None)] * a.ndim
            index[axis] = slice(int(op.i0[0]), int(op.i0[-1]) + 1)
            return a[tuple(index)]
        return np.take(a, op.i0, axis=axis)
    if op.kind == "linear":
        shape = [1] * a.ndim
        shape[axis] = op.w.size
        w = op.w.reshape(shape)
        if a.dtype not in (np.float32, np.float64):
            return np.take(a, op.i0, axis=axis) * (1 - w) + np.take(a, op.i1, axis=axis) * w
        # The same float arithmetic in place: no fresh temporaries (page faults) per operation.
        out = np.take(a, op.i0, axis=axis)
        out *= 1 - w
        right = np.take(a, op.i1, axis=axis)
        right *= w
        out += right
        return out
    if op.kind == "window":
        return _window_sum(a, op.i0, op.i1, axis)
    raise ValueError(op.kind)


def _mask_outside(out: np.ndarray, op_y: AxisOp, op_x: AxisOp) -> np.ndarray:
    inside = op_y.valid[:, None] & op_x.valid[None, :]
    if not inside.all():
        out[..., ~inside] = np.nan
    return out


def resample_separable(data: np.ndarray, op_y: AxisOp, op_x: AxisOp, method: str) -> np.ndarray:
    """Resample (..., y, x) data cut to the ops' read windows; returns float32 (..., ty, tx)."""
    if method == "mode":
        return _mode_separable(data, op_y, op_x)
    data = np.asarray(data, dtype="float32")
    ay, ax = data.ndim - 2, data.ndim - 1
    if op_y.kind == op_x.kind == "take":
        # Nearest: every target takes exactly one source pixel, NaN included; no weights needed.
        out = np.array(apply_axis(apply_axis(data, op_y, ay), op_x, ax), dtype="float32")
        return _mask_outside(out, op_y, op_x)
    valid = ~np.isnan(data)
    all_valid = bool(valid.all())
    num = data if all_valid else np.where(valid, data, np.float32(0))
    num = apply_axis(apply_axis(num, op_y, ay), op_x, ax)
    if all_valid:
        ones = np.ones(data.shape[-2:], dtype="float32")
        den = apply_axis(apply_axis(ones, op_y, 0), op_x, 1)
    else:
        mask = valid.view(np.uint8)
        if not (op_y.kind == op_x.kind == "window"):
            mask = mask.astype("float32")
        # Window sums of a 0/1 mask are exact integers: counting them in uint16 (block mean) gives
        # the same float32 values as summing a float32 mask, with a quarter of the memory traffic.
        den = apply_axis(apply_axis(mask, op_y, ay), op_x, ax)
        if den.dtype.kind == "u":
            den = den.astype("float32")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (num / den).astype("float32", copy=False)
    np.copyto(out, np.float32(np.nan), where=den <= 1e-6)
    return _mask_outside(out, op_y, op_x)


def _mode_separable(data: np.ndarray, op_y: AxisOp, op_x: AxisOp) -> np.ndarray:
    """Most frequent class per target window (ties: the smallest class); NaN only if all are NaN."""
    classes = np.unique(data[~np.isnan(data)])
    shape = (*data.shape[:-2], op_y.valid.size, op_x.valid.size)
    best = np.full(shape, np.nan, dtype="float32")
    best_count = np.zeros(shape, dtype="float64")
    for value in classes:
        hits = (data == value).astype("float32")
        count = apply_axis(apply_axis(hits, op_y, data.ndim - 2), op_x, data.ndim - 1)
        better = count > best_count + 0.5
        best = np.where(better, np.float32(value), best)
        best_count = np.where(better, count, best_count)
    return _mask_outside(best, op_y, op_x)


# -- non-separable (reprojection): 2-D position fields ------------------------------------------------


def read_window_2d(fy: np.ndarray, fx: np.ndarray, ny: int, nx: int, margin: int = 1):
    """Source index window (y0, y1, x0, x1) covering the finite positions, or None if outside.

    The window is the hull of one window per position, [floor(f) - margin, ceil(f) + margin) cut
    to the source, over the positions whose own window is not empty (strictly inside the source
    grown by `margin`). So the window of a region is the hull of its parts' windows, however the
    region is cut: a band's window contains its tiles' windows, and planning may go piece by piece.
    Positions exactly `margin` pixels outside the source add nothing: they sample no pixel."""
    ok = np.isfinite(fy) & np.isfinite(fx) & (fy > -margin) & (fy < ny + margin)
    ok &= (fx > -margin) & (fx < nx + margin)
    if not ok.any():
        return None
    y0 = int(max(np.floor(fy[ok].min()) - margin, 0))
    y1 = int(min(np.ceil(fy[ok].max()) + margin, ny))
    x0 = int(max(np.floor(fx[ok].min()) - margin, 0))
    x1 = int(min(np.ceil(fx[ok].max()) + margin, nx))
    if y1 <= y0 or x1 <= x0:
        return None
    return y0, y1, x0, x1


def resample_points(
    data: np.ndarray,
    fy: np.ndarray,
    fx: np.ndarray,
    method: str,
    n_full: tuple[int, int],
    offset: tuple[int, int],
) -> np.ndarray:
    """Sample (..., Y, X) data (a window starting at `offset` of a source of shape `n_full`) at 2-D
    fractional positions; `nearest` or NaN-aware `bilinear`. Outside the source footprint -> NaN."""
    ny, nx = n_full
    fy, fx = _round(fy), _round(fx)
    inside = np.isfinite(fy) & np.isfinite(fx) & (fy >= 0) & (fx >= 0)
    inside &= (fy < ny) & (fx < nx) if method == "nearest" else (fy <= ny) & (fx <= nx)
    fy, fx = np.where(inside, fy, 0.5), np.where(inside, fx, 0.5)
    hy, hx = data.shape[-2], data.shape[-1]
    if method == "nearest":
        iy = np.clip(np.floor(fy).astype("int64") - offset[0], 0, hy - 1)
        ix = np.clip(np.floor(fx).astype("int64") - offset[1], 0, hx - 1)
        out = data[..., iy, ix].astype("float32")
    elif method == "bilinear":
        uy, ux = np.clip(fy - 0.5, 0, ny - 1), np.clip(fx - 0.5, 0, nx - 1)
        y0 = np.clip(np.floor(uy).astype("int64"), 0, max(ny - 2, 0))
        x0 = np.clip(np.floor(ux).astype("int64"), 0, max(nx - 2, 0))
        wy, wx = uy - y0, ux - x0
        y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
        num = np.zeros((*data.shape[:-2], *fy.shape), dtype="float64")
        den = np.zeros_like(num)
        for iy, ix, w in (
            (y0, x0, (1 - wy) * (1 - wx)),
            (y0, x1, (1 - wy) * wx),
            (y1, x0, wy * (1 - wx)),
            (y1, x1, wy * wx),
        ):
            v = data[..., np.clip(iy - offset[0], 0, hy - 1), np.clip(ix - offset[1], 0, hx - 1)]
            ok = ~np.isnan(v)
            num += np.where(ok, v, 0) * w
            den += ok * w
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den > 1e-9, num / np.where(den > 1e-9, den, 1), np.nan).astype("float32")
    else:
        raise ValueError(f"point sampling supports nearest and bilinear, not {method!r}")
    out[..., ~inside] = np.nan
    return out


def coarsen(data: np.ndarray, factor: int, method: str) -> np.ndarray:
    """Integer-factor NaN-aware block mean or mode over the last two axes (trailing partial blocks
    are averaged over the pixels they have). Used before point sampling when reprojecting."""
    ny, nx = data.shape[-2:]
    my, mx = -(-ny // factor), -(-nx // factor)
    f_y = np.arange(my + 1, dtype="float64") * factor
    f_x = np.arange(mx + 1, dtype="float64") * factor
    op_y = window_op(np.minimum(f_y, ny), ny)
    op_x = window_op(np.minimum(f_x, nx), nx)
    return resample_separable(data, op_y, op_x, "block_mean" if method == "block_mean" else "mode")
