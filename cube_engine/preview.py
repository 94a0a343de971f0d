"""`preview`: a map image of one slice with a colour bar and a title (matplotlib, no display).

A time outside the cube is an error naming the cube's range (a "nearest" step decades away would
be a silently wrong picture); a damaged chunk is an error naming it; the PNG appears complete or
not at all (written beside its name, then renamed).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .constants import TIME_DIM
from .errors import CubeEngineError
from .outputs import make_parents, remove_if_empty


def _label(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else ts.isoformat()


def select_time(da: xr.DataArray, time: str | None) -> xr.DataArray:
    """The step whose period holds `time` (the first step when None); an error outside the cube."""
    if time is None:
        return da.isel({TIME_DIM: 0})
    try:
        wanted = pd.Timestamp(time)
    except ValueError as exc:
        raise CubeEngineError(f"--time: not a date: {time!r} ({exc})") from None
    times = pd.DatetimeIndex(da[TIME_DIM].values)
    step = times[-1] - times[-2] if len(times) > 1 else pd.Timedelta(days=1)
    if not times[0] <= wanted < times[-1] + step:
        raise CubeEngineError(
            f"--time: {time} is outside the cube's time range {_label(times[0])}..{_label(times[-1])}"
        )
    index = int(np.searchsorted(times.values, wanted.to_datetime64(), side="right")) - 1
    return da.isel({TIME_DIM: index})


def _values(da: xr.DataArray, var: str, cube_path: str | None) -> np.ndarray:
    try:
        return da.values
    except Exception:
        if cube_path is None:
            raise
        from .chunkcheck import first_damaged

        problem = first_damaged(cube_path, var)
        if problem is None:
            raise
        raise CubeEngineError(
            f"{cube_path}: {problem} (`cube-engine validate --deep` lists every damaged chunk)"
        ) from None


def render_preview(
    ds: xr.Dataset,
    var: str,
    output: str | Path,
    time: str | None = None,
    cmap: str = "viridis",
    *,
    cube_path: str | None = None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if var not in ds.data_vars:
        raise CubeEngineError(
            f"--var: no variable {var!r} in the cube (has: {', '.join(map(str, ds.data_vars))})"
        )
    da = ds[var]
    label = ""
    if TIME_DIM in da.dims:
        da = select_time(da, time)
        label = f" — {np.datetime_as_string(da[TIME_DIM].values, unit='D')}"
    ydim, xdim = da.dims[-2:]
    data = _values(da, var, cube_path)
    x, y = ds[xdim].values, ds[ydim].values
    dx = (x[1] - x[0]) if x.size > 1 else 1
    dy = (y[1] - y[0]) if y.size > 1 else -1
    extent = (x[0] - dx / 2, x[-1] + dx / 2, y[-1] + dy / 2, y[0] - dy / 2)
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    finite = data[np.isfinite(data)]
    vmin, vmax = np.percentile(finite, [2, 98]) if finite.size else (0, 1)
    image = ax.imshow(data, extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label(f"{da.attrs.get('long_name', var)} [{da.attrs.get('units', '?')}]")
    ax.set_title(f"{ds.attrs.get('title', 'cube')}: {var}{label}")
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    output = Path(output)
    created = make_parents(output.parent)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".png")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
    try:
        fig.savefig(tmp, bbox_inches="tight", format="png")
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        remove_if_empty(created)
        raise
    finally:
        plt.close(fig)
    return output
