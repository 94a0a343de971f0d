"""A rollback journal for cubes on object storage (s3://...), where there is no rename.

Every change to an object-store cube runs inside a `Transaction`:

1. a lock object `<target>.lock` is written (one writer per cube; see `remote_lock`);
2. the manifest `<target>.txn/<id>/manifest.json` is written *first*, listing every action
   (`Action`) the run may take, in state `prepared`;
3. every existing object the run may overwrite or delete is copied to `<target>.txn/<id>/backup/`;
4. the manifest is rewritten in state `active` (one PUT: atomic) — only now is the cube touched;
5. on success the manifest is deleted (the commit point), then the backups and the lock;
   on error the transaction is rolled back at once.

A run killed at any point leaves either no journal (committed), a `prepared` journal (nothing was
touched: the journal is simply dropped) or an `active` one, which the next `gen`, `append`, `info`,
`validate` or open of the target rolls back before anything else: objects the run created are
deleted, objects it replaced or deleted are copied back from their backups. Rollback is idempotent
(a rollback killed half-way is finished by the next one) because the backups are removed last.

`append` does not use this journal: it stages its objects under the same `<target>.txn/<id>/`
prefix and publishes them after a commit point (`overlay.StagedAppend`); `recover` rolls such a
journal forward when it was committed and drops it otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import StoreError
from .settings import load_settings
from .storage import filesystem, is_remote

MANIFEST = "manifest.json"


class Action(StrEnum):
    """What a run may do to one key of the cube, and so what rollback must undo. The writer and the
    rollback reader share this Enum: an unknown action in a manifest is an error, never skipped."""

    CREATE = "create"
    """The key did not exist: rollback deletes it."""
    REPLACE = "replace"
    """The key existed and may be overwritten or deleted: rollback restores it from its backup."""
    CREATE_ALL = "create_all"
    """Every key under the target that is not a REPLACE key is new (`gen` replaces a whole cube):
    rollback deletes all of them."""


class State(StrEnum):
    PREPARED = "prepared"  # manifest written, backups being made, the cube not touched yet
    ACTIVE = "active"  # backups complete, the cube may be changing


@dataclass(frozen=True)
class Entry:
    action: Action
    key: str = ""  # relative to the target; "" for CREATE_ALL

    def to_json(self) -> dict[str, str]:
        return {"action": self.action.value, "key": self.key}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Entry:
        try:
            action = Action(data["action"])
        except (KeyError, ValueError):
            raise StoreError(f"rollback journal: unknown action {data.get('action')!r}") from None
        return cls(action, data.get("key", ""))


def object_path(path: str) -> str:
    """`bucket/key` of an object-store URL (what fsspec methods take); a local path unchanged."""
    return path.split("://", 1)[1].rstrip("/") if "://" in path else path.rstrip("/")


def journal_root(target: str) -> str:
    """The prefix beside the cube holding its journals (and staged appends)."""
    return f"{object_path(target)}.txn"


def _lock_path(target: str) -> str:
    return f"{object_path(target)}.lock"


def existing_keys(fs, target: str) -> list[str]:
    """Keys (relative to the target) of every object of the cube at `target`."""
    root = object_path(target)
    fs.invalidate_cache()
    if not fs.exists(root):
        return []
    return sorted(p[len(root) + 1 :] for p in fs.find(root))


class Transaction:
    """One journaled change of the cube at `target` (an object-store URL)."""

    def __init__(self, target: str, storage_options: dict[str, Any] | None, kind: str):
        self.target = target.rstrip("/")
        self.fs = filesystem(self.target, storage_options)
        self.kind = kind
        self.id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.root = f"{journal_root(self.target)}/{self.id}"
        self.entries: list[Entry] = []

    # -- writer ---------------------------------------------------------------------------------------
    def _write_manifest(self, state: State) -> None:
        manifest = {
            "version": 1,
            "id": self.id,
            "target": self.target,
            "kind": self.kind,
            "state": state.value,
            "created": time.time(),
            "entries": [e.to_json() for e in self.entries],
        }
        self.fs.pipe_file(f"{self.root}/{MANIFEST}", json.dumps(manifest).encode())

    def begin(self, entries: Iterable[Entry]) -> None:
        """Write the manifest, back up every REPLACE key that exists, then mark the journal active."""
        self.entries = list(entries)
        self._write_manifest(State.PREPARED)
        base = object_path(self.target)
        for entry in self.entries:
            if entry.action is Action.REPLACE:
                src = f"{base}/{entry.key}"
                if self.fs.exists(src):
                    self.fs.copy(src, f"{self.root}/backup/{entry.key}")
        self._write_manifest(State.ACTIVE)

    def commit(self) -> None:
        """The run succeeded: drop the manifest (the commit point), then the backups."""
        self.fs.rm_file(f"{self.root}/{MANIFEST}")
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.root, recursive=True)
        self.fs.invalidate_cache()

    def rollback(self) -> None:
        rollback_journal(self.fs, self.target, self.root)


def rollback_journal(fs, target: str, root: str) -> None:
    """Undo the journal at `root` (idempotent), then delete it."""
    fs.invalidate_cache()
    try:
        manifest = json.loads(fs.cat_file(f"{root}/{MANIFEST}"))
    except FileNotFoundError:
        manifest = None  # committed (manifest gone) or never started: only leftovers to drop
    if manifest is not None and manifest.get("state") == State.ACTIVE.value:
        entries = [Entry.from_json(e) for e in manifest["entries"]]
        base = object_path(target)
        replaced = {e.key for e in entries if e.action is Action.REPLACE}
        doomed = [f"{base}/{e.key}" for e in entries if e.action is Action.CREATE]
        if any(e.action is Action.CREATE_ALL for e in entries):
            doomed += [f"{base}/{k}" for k in existing_keys(fs, target) if k not in replaced]
        present = set(fs.find(base)) if fs.exists(base) else set()
        for path in doomed:
            if path in present:
                fs.rm_file(path)
        for key in sorted(replaced):
            backup = f"{root}/backup/{key}"
            if fs.exists(backup):
                fs.copy(backup, f"{base}/{key}")
            elif f"{base}/{key}" in present:
                # No backup: the key did not exist when the run began, so it is new.
                fs.rm_file(f"{base}/{key}")
    with contextlib.suppress(FileNotFoundError):
        if fs.exists(f"{root}/{MANIFEST}"):
            fs.rm_file(f"{root}/{MANIFEST}")
        fs.rm(root, recursive=True)
    fs.invalidate_cache()


# -- lock and recovery --------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (a lock or staging folder of a live run)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_is_stale(info: dict) -> bool:
    """A lock is stale when its process is gone (same host) or it is older than CUBE_ENGINE_LOCK_TTL."""
    if info.get("host") == socket.gethostname() and not pid_alive(int(info.get("pid", -1))):
        return True
    return time.time() - float(info.get("created", 0)) > load_settings().lock_ttl


def _read_lock(fs, path: str) -> dict | None:
    try:
        return json.loads(fs.cat_file(path))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"created": 0}  # unreadable: treat as stale


def recover(target: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Roll back what a killed writer left at `target` (object stores only); True if anything was.
    A journal whose writer is still alive (its lock is not stale) is left alone."""
    if not is_remote(target):
        return False
    fs = filesystem(target, storage_options)
    lock = _lock_path(target)
    info = _read_lock(fs, lock)
    if info is not None and not _lock_is_stale(info):
        return False
    root = journal_root(target)
    fs.invalidate_cache()
    if not fs.exists(root):
        if info is not None:
            fs.rm_file(lock)
        return False
    journals = sorted({p[len(root) + 1 :].split("/", 1)[0] for p in fs.find(root)}, reverse=True)
    from .overlay import finish_remote  # staged appends: committed ones are rolled forward

    for journal in journals:
        if not finish_remote(fs, target, f"{root}/{journal}"):
            rollback_journal(fs, target, f"{root}/{journal}")
    with contextlib.suppress(FileNotFoundError):
        fs.rm(root, recursive=True)
    if info is not None:
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(lock)
    fs.invalidate_cache()
    return bool(journals)


@contextlib.contextmanager
def remote_lock(target: str, storage_options: dict[str, Any] | None = None) -> Iterator[None]:
    """One writer per object-store cube: the lock object `<target>.lock` (id, host, pid, time).

    Object stores have no atomic create-if-absent here, so this is check, write, read back: it
    stops a second `cube-engine` run, not two that start within the same few milliseconds. A lock
    left by a killed run is taken over once stale (dead pid on this host, or older than the TTL),
    after rolling back that run's journal."""
    fs = filesystem(target, storage_options)
    path = _lock_path(target)
    info = _read_lock(fs, path)
    if info is not None and not _lock_is_stale(info):
        raise StoreError(
            f"{target} is being written by another process (lock object {path}: "
            f"host {info.get('host')}, pid {info.get('pid')})"
        )
    recover(target, storage_options)
    mine = {"id": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid(), "created": time.time()}
    fs.pipe_file(path, json.dumps(mine).encode())
    fs.invalidate_cache()
    if (_read_lock(fs, path) or {}).get("id") != mine["id"]:
        raise StoreError(f"{target} is being written by another process (lost the race for {path})")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if (_read_lock(fs, path) or {}).get("id") == mine["id"]:
                fs.rm_file(path)
