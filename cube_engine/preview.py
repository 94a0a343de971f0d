"""`preview`: a map image of one slice with a colour bar and a title (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .constants import TIME_DIM
from .errors import CubeEngineError


def render_preview(
    ds: xr.Dataset, var: str, output: str | Path, time: str | None = None, cmap: str = "viridis"
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
        if time is None:
            da = da.isel({TIME_DIM: 0})
        else:
            try:
                da = da.sel({TIME_DIM: pd.Timestamp(time)}, method="nearest")
            except (ValueError, KeyError) as exc:
                raise CubeEngineError(f"--time: cannot select {time!r}: {exc}") from None
        label = f" — {np.datetime_as_string(da[TIME_DIM].values, unit='D')}"
    ydim, xdim = da.dims[-2:]
    data = da.values
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
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, bbox_inches="tight")
    plt.close(fig)
    return output
