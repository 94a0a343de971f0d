"""Library entry points behind the CLI: gen, open_cube (in `access.py`, shared with `semantic`),
append (in `append.py`; rechunk, info, validate, preview live in their own modules). Each function
validates everything — the output location first, then the sources — before it writes anything."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import xarray as xr

from . import __version__
from .access import open_cube
from .config import CubeConfig, config_sha256
from .cubeplan import CubePlan
from .errors import CubeValidationError
from .executors import Progress, execute
from .grid import Grid, parse_crs
from .outputs import check_output, store_errors
from .planning import build_plan
from .publish import Staging, target_lock
from .sources import close_all
from .writer import compressor_for, consolidate, cube_attrs, write_template


@dataclass
class RunResult:
    path: str
    tasks: int
    seconds: float
    times: int
    warnings: list[str] = field(default_factory=list)
    note: str | None = None  # e.g. why an append added nothing


def _source_list(plan: CubePlan) -> list[str]:
    return [f"{s.config.name}: {', '.join(s.config.paths)}" for s in plan.sources]


def gen(
    config: CubeConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Build the cube described by `config` and publish it atomically at `config.output.path`."""
    started = time.perf_counter()
    out = config.output
    target = out.path.rstrip("/")
    check_output(target, out.storage_options)
    plan = build_plan(config)
    with store_errors(target, out.storage_options), target_lock(target, out.storage_options):
        staging = Staging(target, out.storage_options, overwrite=out.overwrite)
        path = staging.begin()
        try:
            attrs = cube_attrs(
                title=config.title,
                summary=config.summary,
                grid=plan.grid,
                times=plan.times,
                sources=_source_list(plan),
                config_sha=config_sha256(config),
                history=f"cube-engine {__version__} gen",
            )
            template = ThreadPoolExecutor(1, thread_name_prefix="cube-template")
            ready = template.submit(  # overlaps the first reads
                write_template,
                path,
                out.storage_options,
                grid=plan.grid,
                times=plan.times,
                variables=list(plan.variables),
                chunks=plan.chunks,
                attrs=attrs,
                zarr_format=out.zarr_format,
                compressor=compressor_for(out.compressor, out.compression_level, out.zarr_format),
            )
            template.shutdown(wait=False)
            try:
                execute(plan, path, workers=workers, scheduler=scheduler, progress=progress, ready=ready)
            finally:
                ready.exception()  # never abort (delete staging) while the template is being written
            consolidate(path, out.storage_options)
            staging.commit()
        except BaseException:
            staging.abort()
            raise
        finally:
            close_all()
    return RunResult(
        target,
        len(plan.tasks),
        time.perf_counter() - started,
        0 if plan.times is None else len(plan.times),
        list(plan.warnings),
    )


def cube_grid(ds: xr.Dataset) -> Grid:
    if "crs" not in ds.variables:
        raise CubeValidationError("cube has no `crs` variable")
    wkt = ds["crs"].attrs.get("crs_wkt") or ds["crs"].attrs.get("spatial_ref")
    xdim = "lon" if "lon" in ds.dims else "x"
    ydim = "lat" if "lat" in ds.dims else "y"
    return Grid.from_coords(ds[xdim].values, ds[ydim].values, parse_crs(wkt), what="cube")


from .append import append  # noqa: E402  (the append entry point lives in its own module)

__all__ = ["RunResult", "append", "cube_grid", "gen", "open_cube"]
