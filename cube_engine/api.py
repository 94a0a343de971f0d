"""Library entry points behind the CLI: gen, append (rechunk, info, validate, preview live in their
own modules). Each function validates everything before it writes anything."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from . import __version__
from .config import CubeConfig, config_sha256
from .constants import TIME_DIM
from .engine import CubeJob, Progress, execute, prepare, target_grid
from .errors import CubeValidationError, StoreError, TimeAxisError
from .grid import Grid, parse_crs
from .journal import Action, Entry, Transaction, existing_keys, recover
from .publish import Staging, target_lock
from .sources import close_all
from .storage import filesystem, is_remote, normalise_options
from .timeaxis import period_starts
from .writer import compressor_for, consolidate, cube_attrs, output_array, write_template, zarr_store


@dataclass
class RunResult:
    path: str
    tasks: int
    seconds: float
    times: int
    warnings: list[str] = field(default_factory=list)


def _source_list(job: CubeJob) -> list[str]:
    return [f"{s.config.name}: {', '.join(s.config.paths)}" for s in job.sources]


def gen(
    config: CubeConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Build the cube described by `config` and publish it atomically at `config.output.path`."""
    started = time.perf_counter()
    job = prepare(config)
    out = config.output
    target = out.path.rstrip("/")
    with target_lock(target, out.storage_options):
        staging = Staging(target, out.storage_options, overwrite=out.overwrite)
        path = staging.begin()
        try:
            attrs = cube_attrs(
                title=config.title,
                summary=config.summary,
                grid=job.grid,
                times=job.times,
                sources=_source_list(job),
                config_sha=config_sha256(config),
                history=f"cube-engine {__version__} gen",
            )
            template = ThreadPoolExecutor(1, thread_name_prefix="cube-template")
            ready = template.submit(  # overlaps the first reads
                write_template,
                path,
                out.storage_options,
                grid=job.grid,
                times=job.times,
                variables=job.variables,
                chunks=job.chunks,
                attrs=attrs,
                zarr_format=out.zarr_format,
                compressor=compressor_for(out.compressor, out.compression_level, out.zarr_format),
            )
            template.shutdown(wait=False)
            job.store_path = path
            tasks = job.tasks()
            try:
                execute(job, tasks, workers=workers, scheduler=scheduler, progress=progress, ready=ready)
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
        len(tasks),
        time.perf_counter() - started,
        0 if job.times is None else len(job.times),
        job.warnings,
    )


def open_cube(path: str, storage_options: dict | None = None) -> xr.Dataset:
    """Open a published cube lazily (consolidated metadata: the commit point). On object storage a
    journal left by a killed writer is rolled back first."""
    recover(path, storage_options)
    kwargs = {"storage_options": normalise_options(path, storage_options)} if is_remote(path) else {}
    try:
        return xr.open_zarr(path, consolidated=True, **kwargs)
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        raise StoreError(f"cannot open cube {path}: {exc}") from None
    except Exception as exc:
        raise StoreError(f"cannot open cube {path}: {type(exc).__name__}: {exc}") from None


def cube_grid(ds: xr.Dataset) -> Grid:
    if "crs" not in ds.variables:
        raise CubeValidationError("cube has no `crs` variable")
    wkt = ds["crs"].attrs.get("crs_wkt") or ds["crs"].attrs.get("spatial_ref")
    xdim = "lon" if "lon" in ds.dims else "x"
    ydim = "lat" if "lat" in ds.dims else "y"
    return Grid.from_coords(ds[xdim].values, ds[ydim].values, parse_crs(wkt), what="cube")


def append(
    config: CubeConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Add the config's time steps after the existing cube's last step, committing by metadata swap."""
    started = time.perf_counter()
    out = config.output
    target = out.path.rstrip("/")
    with target_lock(target, out.storage_options):
        cube = open_cube(target, out.storage_options)
        if TIME_DIM not in cube.dims or config.time is None:
            raise CubeValidationError(f"{target}: append needs a cube and a config with a time axis")
        grid = target_grid(config)
        if cube_grid(cube) != grid:
            raise CubeValidationError(
                f"{target}: the cube's grid {cube_grid(cube)} differs from the config's {grid}"
            )
        expected = {v.output_name for _, v in config.variables}
        present = {n for n in cube.data_vars if n != "crs"}
        if expected != present:
            raise CubeValidationError(
                f"{target}: variables differ (cube: {', '.join(sorted(present))}; "
                f"config: {', '.join(sorted(expected))})"
            )
        old_times = pd.DatetimeIndex(cube[TIME_DIM].values)
        starts = period_starts(config.time)
        if starts[0] <= old_times[-1]:
            raise TimeAxisError(
                f"time.start: the new steps ({starts[0].isoformat()}..) overlap or precede the cube, "
                f"which ends at {old_times[-1].isoformat()}; append only adds later steps"
            )
        n_old = len(old_times)
        job = prepare(config, starts=starts, period_offset=n_old)
        all_times = old_times.append(starts)
        timed = [v.name for v in job.variables if not v.static]
        time_chunk = (
            cube[timed[0]].encoding.get("chunks", (job.chunks.time,))[0] if timed else job.chunks.time
        )
        from .writer import ChunkShape

        job.chunks = ChunkShape(int(time_chunk), *[int(c) for c in cube[timed[0]].encoding["chunks"][1:]])
        job.times = all_times
        job.keep_before = n_old
        job.compute_from = n_old
        job.store_path = target
        n = len(all_times)
        job.array_shapes = {name: (n, *grid.shape) for name in timed}
        tasks = job.tasks()
        transaction = None
        try:
            if is_remote(target):
                transaction = Transaction(target, out.storage_options, "append")
                transaction.begin(_append_entries(target, out.storage_options, n_old, n, timed))
            execute(job, tasks, workers=workers, scheduler=scheduler, progress=progress)
            _commit_append(target, out.storage_options, cube, all_times, n_old, timed)
            if transaction is not None:
                transaction.commit()
        except BaseException:
            if transaction is not None:
                transaction.rollback()
            raise
        finally:
            close_all()
    return RunResult(target, len(tasks), time.perf_counter() - started, len(starts), job.warnings)


def _append_entries(path: str, storage_options, n_old: int, n: int, timed: list[str]) -> list[Entry]:
    """Every key an append of steps [n_old, n) may write: the metadata objects and the chunks of the
    time blocks it touches (REPLACE when they exist, so they are backed up; CREATE otherwise)."""
    import itertools
    import math

    keys = set(existing_keys(filesystem(path, storage_options), path))
    entries = [
        Entry(Action.REPLACE, k)
        for k in sorted(keys)
        if k.rsplit("/", 1)[-1] in (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")
    ]
    group = zarr.open_group(zarr_store(path, storage_options), mode="r")
    for name in [*timed, TIME_DIM]:
        array = group[name]
        chunks, shape = array.chunks, (n, *array.shape[1:])
        first, last = n_old // chunks[0], math.ceil(n / chunks[0])
        others = [range(math.ceil(s / c)) for s, c in zip(shape[1:], chunks[1:], strict=True)]
        for index in itertools.product(range(first, last), *others):
            key = f"{name}/{array.metadata.encode_chunk_key(index)}"
            entries.append(Entry(Action.REPLACE if key in keys else Action.CREATE, key))
    return entries


def _commit_append(
    path: str, storage_options, cube: xr.Dataset, all_times: pd.DatetimeIndex, n_old: int, timed: list[str]
) -> None:
    """Invisible writes are done; now time values, shapes and attributes; `.zmetadata` last."""
    from xarray.coding.times import encode_cf_datetime

    n = len(all_times)
    enc = cube[TIME_DIM].encoding
    units = enc.get("units", "seconds since 1970-01-01T00:00:00")
    calendar = enc.get("calendar", "proleptic_gregorian")
    values, _, _ = encode_cf_datetime(
        all_times.values[n_old:], units, calendar, dtype=np.dtype(enc.get("dtype", "int64"))
    )
    time_array = output_array(path, storage_options, TIME_DIM, (n,))
    time_array[n_old:n] = values
    store = zarr_store(path, storage_options)
    group = zarr.open_group(store, mode="r+")
    for name in [*timed, TIME_DIM]:
        group[name].resize((n, *group[name].shape[1:]))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    history = str(group.attrs.get("history", ""))
    group.attrs.update(
        {
            "time_coverage_end": all_times[-1].isoformat(),
            "history": (history + "\n" if history else "") + f"{now} cube-engine {__version__} append "
            f"{all_times[n_old].isoformat()}..{all_times[-1].isoformat()}",
            "date_modified": now,
        }
    )
    consolidate(path, storage_options)
