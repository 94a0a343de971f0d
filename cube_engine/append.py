"""`append`: add the time steps the sources hold after a cube's last step.

Which steps: `steps.append_starts` (the config the cube was built from works as is). How they are
published: `overlay.StagedAppend` — the engine writes new and rewritten chunks into a staging area,
reading the kept steps of a partial last time block from the cube, and the cube is untouched
until the commit point. Whole time chunks are appended where the axis allows (a partial last block
is rewritten once per append, not once per step).
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from . import __version__
from .config import CubeConfig
from .constants import TIME_DIM
from .errors import ConfigError, CubeValidationError, StoreError
from .executors import Progress, execute
from .outputs import check_output, store_errors
from .overlay import METADATA_NAMES, StagedAppend
from .planning import Extension, build_plan, target_grid
from .publish import target_lock
from .sources import close_all
from .steps import append_starts, describe_nothing_new, discover_all
from .storage import is_remote
from .writer import ChunkShape, consolidate, output_array, zarr_store


def _check_compatible(cube: xr.Dataset, config: CubeConfig, target: str) -> list[str]:
    """The cube's grid and variables must be the config's; returns the time-dependent variables."""
    from .api import cube_grid

    grid = target_grid(config)
    if cube_grid(cube) != grid:
        raise CubeValidationError(
            f"{target}: the cube's grid {cube_grid(cube)} differs from the config's {grid}"
        )
    expected = {v.output_name for _, v in config.variables}
    present = {str(n) for n in cube.data_vars if n != "crs"}
    if expected != present:
        raise CubeValidationError(
            f"{target}: variables differ (cube: {', '.join(sorted(present))}; "
            f"config: {', '.join(sorted(expected))})"
        )
    if TIME_DIM not in cube.dims:
        raise CubeValidationError(f"{target}: the cube has no time axis to append to")
    return [str(n) for n in cube.data_vars if TIME_DIM in cube[n].dims]


def _keys_to_stage(target: str, storage_options, cube: xr.Dataset, n_old: int, n: int) -> list[str]:
    """What the staging area starts with: every metadata file (consolidation needs them all) and
    the time coordinate's chunks that the new steps share with old ones."""
    keys = [*METADATA_NAMES]
    for name in cube.variables:
        keys += [f"{name}/{meta}" for meta in (".zarray", ".zattrs", "zarr.json")]
    time_array = zarr.open_array(zarr_store(target, storage_options, read_only=True), path=TIME_DIM, mode="r")
    size = time_array.chunks[0]
    for index in range(n_old // size, min(math.ceil(n_old / size), math.ceil(n / size))):
        keys.append(f"{TIME_DIM}/{time_array.metadata.encode_chunk_key((index,))}")
    return keys


def _open_existing(target: str, storage_options) -> xr.Dataset:
    from .api import open_cube

    if not is_remote(target) and not os.path.isdir(target):
        raise StoreError(
            f"output.path: no cube at {target} to append to (build it with `cube-engine gen` first)"
        )
    return open_cube(target, storage_options)


def append(
    config: CubeConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
):
    """Add the steps the sources hold after the cube's last one; `RunResult.times == 0` (with a
    `note`) when there is nothing new, and then nothing is written."""
    from .api import RunResult, open_cube

    started = time.perf_counter()
    out = config.output
    target, options = out.path.rstrip("/"), out.storage_options
    if config.time is None:
        raise ConfigError("append needs a time axis", "time")
    if is_remote(target):
        check_output(target, options)
    _open_existing(target, options)  # before the lock: a missing cube leaves no lock, no folder
    discovered = discover_all(config)
    with store_errors(target, options), target_lock(target, options):
        cube = open_cube(target, options)  # again: a writer may have published since
        timed = _check_compatible(cube, config, target)
        old_times = pd.DatetimeIndex(cube[TIME_DIM].values)
        starts = append_starts(config.time, old_times, discovered)
        if starts.empty:
            note = describe_nothing_new(target, config.time, old_times)
            return RunResult(target, 0, time.perf_counter() - started, 0, note=note)
        n_old = len(old_times)
        chunks = ChunkShape(*(int(c) for c in cube[timed[0]].encoding["chunks"]))
        extension = Extension(target, old_times, starts, chunks, tuple(timed))
        plan = build_plan(config, discovered=discovered, extension=extension)
        all_times = plan.times
        stage = StagedAppend(target, options)
        try:
            path = stage.begin(_keys_to_stage(target, options, cube, n_old, len(all_times)))
            execute(plan, path, workers=workers, scheduler=scheduler, progress=progress)
            _finish_metadata(path, options, cube, all_times, n_old, timed)
            stage.publish()
        except BaseException:
            stage.abort()
            raise
        finally:
            close_all()
    return RunResult(target, len(plan.tasks), time.perf_counter() - started, len(starts), list(plan.warnings))


def _finish_metadata(
    path: str,
    storage_options: dict[str, Any] | None,
    cube: xr.Dataset,
    all_times: pd.DatetimeIndex,
    n_old: int,
    timed: list[str],
) -> None:
    """In the staging area: the new time values, the arrays' new shapes, the attributes, and the
    consolidated metadata."""
    from xarray.coding.times import encode_cf_datetime

    n = len(all_times)
    enc = cube[TIME_DIM].encoding
    units = enc.get("units", "seconds since 1970-01-01T00:00:00")
    calendar = enc.get("calendar", "proleptic_gregorian")
    values, _, _ = encode_cf_datetime(
        all_times.values[n_old:], units, calendar, dtype=np.dtype(enc.get("dtype", "int64"))
    )
    output_array(path, storage_options, TIME_DIM, (n,))[n_old:n] = values
    group = zarr.open_group(zarr_store(path, storage_options), mode="r+")
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
