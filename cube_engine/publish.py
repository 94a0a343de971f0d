"""Atomic publication of a cube.

Local: the cube is written into a staging folder beside the target, then published with one
rename; replacing an existing cube uses Linux's renameat2(RENAME_EXCHANGE), which swaps the two
folders atomically, so at every instant the target path holds a complete cube (old, then new).
A killed run leaves only a `*.staging-<pid>-*` folder (and its lock file), removed by the next run
or reader. `append` publishes differently (`overlay.StagedAppend`).
Object storage has no rename: the cube is written in place inside a rollback-journal transaction
(`journal.Transaction`): the previous cube's objects are copied aside first, and an error — or the
next run, `info`, `validate` or open after a kill — restores them exactly. While an overwrite runs,
the target holds no complete cube (readers get an error, never a mix of old and new).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import StoreError
from .journal import Action, Entry, Transaction, existing_keys, pid_alive, remote_lock
from .journal import recover as journal_recover
from .outputs import make_parents, remove_if_empty
from .overlay import local_leftovers, recover_local
from .storage import filesystem, is_remote

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: str, b: str) -> None:
    """Atomically swap two paths (Linux >= 3.15); raises OSError where unsupported."""
    libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def remove_stale_staging(target: Path) -> None:
    """Delete staging folders left by killed runs (their pid is no longer alive)."""
    for path in target.parent.glob(f"{target.name}.staging-*"):
        try:
            pid = int(path.name.rsplit(".staging-", 1)[1].split("-")[0])
        except ValueError:
            continue
        if not pid_alive(pid) or pid == os.getpid():
            shutil.rmtree(path, ignore_errors=True)


def lock_path(target: str | Path) -> Path:
    path = Path(target)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _flock(lock: Path) -> Iterator[bool]:
    """Hold an exclusive flock on `lock` without waiting; yields whether it was obtained.

    The holder deletes the file before releasing it, so no lock file outlives a run (a killed run
    leaves one, whose flock the kernel has released). A file deleted by its previous holder between
    our open and our flock is detected (the path no longer names our inode) and opened again."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _clean_local(target: Path) -> None:
    """With the lock held: finish or drop what killed runs left beside the cube."""
    recover_local(str(target))
    remove_stale_staging(target)


@contextlib.contextmanager
def target_lock(target: str, storage_options: dict[str, Any] | None = None) -> Iterator[None]:
    """One writer per cube: an flock on `<target>.lock` locally, the lock object `<target>.lock` on
    object storage. Taking it first recovers what a killed writer left (rolls a committed append
    forward, drops staging areas and rollback journals). Folders created for the lock are removed
    again when the run leaves nothing in them."""
    if is_remote(target):
        with remote_lock(target, storage_options):
            yield
        return
    path = Path(target)
    created = make_parents(path.parent)
    try:
        with _flock(lock_path(path)) as held:
            if not held:
                lock = lock_path(path)
                raise StoreError(f"{target} is being written by another process ({lock} is locked)")
            _clean_local(path)
            yield
    finally:
        remove_if_empty(created)


def recover(target: str, storage_options: dict[str, Any] | None = None) -> None:
    """What readers (`info`, `validate`, `preview`, open) do first: complete or drop what a killed
    writer left, unless a live writer holds the cube. Locally this touches nothing when there is
    nothing to recover, and gives up silently where it may not write (a read-only mount)."""
    if is_remote(target):
        journal_recover(target, storage_options)
        return
    path = Path(target)
    lock = lock_path(path)
    if not (lock.exists() or local_leftovers(target) or list(path.parent.glob(f"{path.name}.staging-*"))):
        return
    with contextlib.suppress(OSError), _flock(lock) as held:
        if held:
            _clean_local(path)


CUBE_MARKERS = frozenset({".zgroup", "zarr.json"})


def _not_a_cube(target: str) -> str:
    """Replacing is for cubes: a mistyped output path must never swap away someone's folder."""
    return (
        f"output.path: {target} exists and is not a Zarr cube (no .zgroup or zarr.json); "
        "refusing to replace it"
    )


class Staging:
    """Where a new cube is written before it becomes visible at `target`."""

    def __init__(self, target: str, storage_options: dict[str, Any] | None = None, overwrite: bool = True):
        self.target = target
        self.storage_options = storage_options or {}
        self.remote = is_remote(target)
        self.overwrite = overwrite
        self.transaction: Transaction | None = None
        if self.remote:
            self.path = target.rstrip("/")
        else:
            t = Path(target)
            self.path = str(t.with_name(f"{t.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"))

    def begin(self) -> str:
        if self.remote:
            fs = filesystem(self.target, self.storage_options)
            old = existing_keys(fs, self.target)
            if old and not self.overwrite:
                raise StoreError(f"{self.target} exists and output.overwrite is false")
            if old and not CUBE_MARKERS & set(old):
                raise StoreError(_not_a_cube(self.target))
            self.transaction = Transaction(self.target, self.storage_options, "gen")
            self.transaction.begin([*(Entry(Action.REPLACE, k) for k in old), Entry(Action.CREATE_ALL)])
            if old:
                fs.rm(self.path, recursive=True)  # all-NaN chunks are not written: no stale leftovers
                fs.invalidate_cache()
            return self.path
        target = Path(self.target)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        if target.exists() and not self.overwrite:
            raise StoreError(f"{self.target} exists and output.overwrite is false")
        if target.is_dir() and any(target.iterdir()) and not any((target / m).exists() for m in CUBE_MARKERS):
            raise StoreError(_not_a_cube(self.target))
        return self.path

    def commit(self) -> None:
        """Make the staged cube the target (consolidation has happened in the staging location)."""
        if self.remote:
            if self.transaction is not None:
                self.transaction.commit()
            return
        target = self.target
        if os.path.exists(target):
            try:
                exchange(self.path, target)
            except OSError:
                # No atomic swap here: fall back to two renames (a crash in between leaves the old
                # cube at `<target>.old-*`; documented).
                old = f"{target}.old-{uuid.uuid4().hex[:8]}"
                os.rename(target, old)
                os.rename(self.path, target)
                shutil.rmtree(old, ignore_errors=True)
                return
            shutil.rmtree(self.path, ignore_errors=True)  # now holds the previous cube
        else:
            os.rename(self.path, target)

    def abort(self) -> None:
        if self.remote:
            if self.transaction is not None:
                self.transaction.rollback()
        else:
            shutil.rmtree(self.path, ignore_errors=True)
