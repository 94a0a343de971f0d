"""`rechunk`: rewrite a cube for another access pattern in bounded memory.

Work is split into slabs: whole output chunks along time x a band of output tile rows, sized so a
slab of one variable stays under a memory budget. Each slab is read once (zarr reads only the input
chunks it touches) and written as whole output chunks; the result is published atomically.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import zarr

from . import __version__
from .constants import CHUNK_PRESETS, CRS_VAR, TIME_DIM
from .errors import CubeEngineError
from .executors import Progress
from .grid import Grid
from .outputs import check_output, store_errors
from .publish import Staging, target_lock
from .writer import (
    ChunkShape,
    OutputVariable,
    compressor_for,
    consolidate,
    output_array,
    write_template,
    zarr_store,
)


def rechunk(
    source: str,
    output: str,
    *,
    preset: str | None = None,
    chunks: dict[str, int] | None = None,
    storage_options: dict | None = None,
    output_storage_options: dict | None = None,
    memory_budget: int = 256 * 2**20,
    workers: int = 2,
    zarr_format: int | None = None,
    compressor: str = "blosc-zstd",
    progress: Progress | None = None,
) -> str:
    from .api import cube_grid, open_cube

    if not preset and not chunks:
        raise CubeEngineError("rechunk: give --preset or --chunks")
    if output.rstrip("/") == source.rstrip("/"):
        raise CubeEngineError("--output: must differ from the input cube")
    ds = open_cube(source, storage_options)
    check_output(output, output_storage_options, "--output")
    grid: Grid = cube_grid(ds)
    times = pd.DatetimeIndex(ds[TIME_DIM].values) if TIME_DIM in ds.dims else None
    base = dict(CHUNK_PRESETS[preset or "image"])
    base.update({k: v for k, v in (chunks or {}).items() if v})
    shape = ChunkShape(
        min(base["time"], len(times) if times is not None else 1),
        min(base["y"], grid.height),
        min(base["x"], grid.width),
    )
    variables = [
        OutputVariable(
            str(n), TIME_DIM not in v.dims, {k: a for k, a in v.attrs.items() if k != "grid_mapping"}
        )
        for n, v in ds.data_vars.items()
        if n != CRS_VAR
    ]
    fmt = zarr_format or int(next(iter(ds.data_vars.values())).encoding.get("zarr_format", 2) or 2)
    attrs = dict(ds.attrs)
    attrs["history"] = (
        str(attrs.get("history", "")) + f"\ncube-engine {__version__} rechunk {source} "
        f"-> chunks time={shape.time} y={shape.y} x={shape.x}"
    )
    src_store = zarr_store(source, storage_options, read_only=True)
    src_group = zarr.open_group(src_store, mode="r")
    with (
        store_errors(output, output_storage_options, "--output"),
        target_lock(output, output_storage_options),
    ):
        staging = Staging(output, output_storage_options)
        path = staging.begin()
        try:
            write_template(
                path,
                output_storage_options,
                grid=grid,
                times=times,
                variables=variables,
                chunks=shape,
                attrs=attrs,
                zarr_format=fmt,
                compressor=compressor_for(compressor, 3, fmt),
            )
            jobs = _slabs(variables, grid, times, shape, memory_budget)
            done = 0
            if progress:
                progress(0, len(jobs))

            def copy(job):
                name, t_slice, rows = job
                src = src_group[name]
                dst = output_array(path, output_storage_options, name)
                if t_slice is None:
                    dst[rows, :] = src[rows, :]
                else:
                    dst[t_slice, rows, :] = src[t_slice, rows, :]

            with ThreadPoolExecutor(workers) as pool:
                for _ in pool.map(copy, jobs):
                    done += 1
                    if progress:
                        progress(done, len(jobs))
            consolidate(path, output_storage_options)
            staging.commit()
        except BaseException:
            staging.abort()
            raise
    return output


def _slabs(variables, grid: Grid, times, shape: ChunkShape, budget: int):
    """(variable, time slice, row slice) units of whole output chunks under the memory budget."""
    jobs = []
    row_bytes = grid.width * 4
    for var in variables:
        if var.static or times is None:
            band = max(1, budget // max(1, row_bytes * shape.y)) * shape.y
            jobs += [
                (var.name, None, slice(r, min(r + band, grid.height))) for r in range(0, grid.height, band)
            ]
            continue
        per_band = row_bytes * shape.y * shape.time
        bands = max(1, budget // max(1, per_band))
        rows = bands * shape.y
        for t in range(0, len(times), shape.time):
            for r in range(0, grid.height, rows):
                jobs.append(
                    (
                        var.name,
                        slice(t, min(t + shape.time, len(times))),
                        slice(r, min(r + rows, grid.height)),
                    )
                )
    return jobs
