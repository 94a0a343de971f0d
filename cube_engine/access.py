"""Reading a published cube: the one way both halves (the engine and `semantic`) open a cube.

Opening is where a reader meets a writer, so the same rules hold for every reader:

1. the store is checked first (a missing folder, bucket, credential or endpoint is one line);
2. what a killed writer left is recovered (`publish.recover`: a rollback journal is rolled back,
   a committed append rolled forward, stale staging dropped);
3. a cube that a *live* writer is changing in place (an object-store overwrite whose rollback
   journal is active) is refused with one line: its objects are a mix of old and new until the
   writer commits or is rolled back, and no reader may see that;
4. only then is the Zarr store opened, lazily, through its consolidated metadata.

A staged append that is publishing is not refused: readers of consolidated metadata see the old
cube until its consolidated metadata is replaced, and the chunks they read hold the old values
bit for bit (see `overlay`). Local cubes are published by an atomic rename, so they never hold a
half-written state. The check runs when the cube is opened: a writer that starts later is the
reader's to notice (the semantic loader reads inside its own transaction and can be run again).

A failed remote read must also end quietly. Zarr and fsspec run their I/O as tasks on their own
event loops, and Zarr gathers reads concurrently: when one fails (an endpoint that is down) the
others are left retrying. At exit Zarr closes its loop with them still pending, and the garbage
collector then closes their coroutines outside the context they started in, which aiobotocore
reports as a hundred lines of "Exception ignored". `_settle_io_at_exit` cancels those tasks on
their own loop first, so a failed command's stderr stays the one line it printed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import fsspec.asyn
import xarray as xr
import zarr.core.sync

from .errors import CubeEngineError, StoreError
from .journal import MANIFEST, State, journal_root
from .outputs import check_remote, describe
from .publish import recover
from .storage import filesystem, is_remote, normalise_options

_DEFAULT = object()
SETTLE_SECONDS = 2.0  # how long exit waits for the cancelled I/O tasks of one loop


async def _cancel_pending() -> None:
    """Cancel every other task of the running loop and wait until they have unwound."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _settle_io_at_exit() -> None:
    """Unwind the I/O tasks a failed read left pending on Zarr's and fsspec's loops (see above)."""
    for loop in (zarr.core.sync.loop[0], fsspec.asyn.loop[0]):
        if loop is None or loop.is_closed() or not loop.is_running():
            continue
        try:
            asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(SETTLE_SECONDS)
        except Exception:  # exit goes on: a stuck task only costs its own warning
            continue


# registered after zarr's own exit handler, so it runs before that one closes zarr's loop
atexit.register(_settle_io_at_exit)


def writer_in_flight(path: str, storage_options: dict[str, Any] | None = None) -> str | None:
    """Why the cube at `path` must not be read now (a live writer's active rollback journal), or
    None. Call after `publish.recover`, which removes the journals of dead writers."""
    if not is_remote(path):
        return None
    fs = filesystem(path, storage_options)
    root = journal_root(path)
    fs.invalidate_cache()
    if not fs.exists(root):
        return None
    for manifest in sorted(fs.glob(f"{root}/*/{MANIFEST}")):
        try:
            info = json.loads(fs.cat_file(manifest))
        except (FileNotFoundError, ValueError):
            continue  # committed meanwhile, or being written: not an active journal
        if info.get("state") == State.ACTIVE.value:
            return (
                f"a {info.get('kind', 'write')} by another process is changing it in place "
                f"(rollback journal {manifest.rsplit('/', 1)[0]}); open it again when that run has "
                "finished or died"
            )
    return None


def open_cube(
    path: str,
    storage_options: dict[str, Any] | None = None,
    *,
    chunks: Any = _DEFAULT,
    consolidated: bool | None = True,
    decode_timedelta: bool | None = None,
) -> xr.Dataset:
    """Open a published cube lazily, after recovering what a killed writer left; a cube a live
    writer is changing, a missing cube, credential or endpoint is one StoreError line.

    `chunks` is xarray's (default: xarray's own, dask-backed); the semantic loader passes None to
    read windows itself. `consolidated=None` also opens cubes without consolidated metadata."""
    path = _ready_to_read(path, storage_options)
    return _open_zarr(
        path, storage_options, chunks=chunks, consolidated=consolidated, decode_timedelta=decode_timedelta
    )


def open_cube_saying_how(path: str, storage_options: dict[str, Any] | None = None) -> tuple[xr.Dataset, bool]:
    """(the cube, whether it was opened through consolidated metadata), for `info` and `validate`,
    which also inspect cubes that lack it. The store is checked and recovered once; only the Zarr
    open is tried again without consolidated metadata (the first failure is the one reported)."""
    path = _ready_to_read(path, storage_options)
    try:
        return _open_zarr(path, storage_options, consolidated=True), True
    except StoreError as consolidated_failure:
        try:
            return _open_zarr(path, storage_options, consolidated=False), False
        except StoreError:
            raise consolidated_failure from None


def _ready_to_read(path: str, storage_options: dict[str, Any] | None) -> str:
    """Steps 1-3 of the module docstring; the path as the store knows it (no trailing slash)."""
    path = path.rstrip("/") or path
    if is_remote(path):
        check_remote(path, storage_options, "cube")
    elif not os.path.exists(path):
        raise StoreError(f"cannot open cube {path}: not found (no such folder)")
    with _store_errors(path, storage_options):
        recover(path, storage_options)
        busy = writer_in_flight(path, storage_options)
    if busy is not None:
        raise StoreError(f"cannot open cube {path}: {busy}")
    return path


def _open_zarr(
    path: str,
    storage_options: dict[str, Any] | None,
    *,
    chunks: Any = _DEFAULT,
    consolidated: bool | None,
    decode_timedelta: bool | None = None,
) -> xr.Dataset:
    """Step 4: the Zarr store, lazily, any failure one StoreError line."""
    kwargs: dict[str, Any] = {"consolidated": consolidated}
    if is_remote(path):
        kwargs["storage_options"] = normalise_options(path, storage_options)
    if chunks is not _DEFAULT:
        kwargs["chunks"] = chunks
    if decode_timedelta is not None:
        kwargs["decode_timedelta"] = decode_timedelta
    with _store_errors(path, storage_options):
        return xr.open_zarr(path, **kwargs)


@contextlib.contextmanager
def _store_errors(path: str, storage_options: dict[str, Any] | None) -> Iterator[None]:
    """A failure inside the block (other than the engine's own errors) as `cannot open cube` line."""
    try:
        yield
    except CubeEngineError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open cube {path}: {describe(exc, path, storage_options)}") from None
