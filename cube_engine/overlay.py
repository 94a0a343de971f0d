"""Appends that leave the published cube untouched, byte for byte, until one commit point.

An append writes everything it produces — new chunks, the rewritten chunks of a partial last time
block, the time coordinate's chunk, the changed metadata and the new consolidated metadata — into a
staging area outside the cube: `<cube>.append-<pid>-<id>/` beside a local cube, or
`<cube>.txn/<id>/stage/` beside an object-store cube (the prefix the rollback journal uses). The
engine reads the old steps of a partial chunk from the cube and writes the merged chunk to the
staging area, so the cube is only read while the run computes. Then `publish`:

1. writes the manifest — the staged keys in publication order: data chunks, then array metadata,
   then group metadata, the consolidated metadata (`.zmetadata`, or the root `zarr.json`) last —
   in one atomic step (a rename locally, one PUT on object storage): the commit point;
2. moves each staged object into the cube (local: `os.replace`, atomic per file; object storage:
   a server-side copy);
3. deletes the manifest, then the staging area.

A run killed before 1 leaves the cube exactly as it was (only the staging area and the lock beside
it, which the next writer or the next `info`/`validate`/open removes). A run killed after 1 is
rolled forward by them: moving is idempotent (a key still staged is moved again, a moved one is
gone from the staging area). Readers of consolidated metadata see the old cube until its
consolidated metadata is replaced, and the values they read do not change: the rewritten chunks
hold the old steps bit for bit.

Why staging and roll-forward, and not a copy of the cube published by one rename: the cost is
proportional to what the append writes (one time block's chunks and a few metadata files), not to
the cube. A decade of daily data is 10^5 chunk files or more, which a copy — or even hard links —
would touch on every daily append. Why not the rollback journal that `gen` uses on object storage:
it writes in place, so while it runs, and after a kill until someone recovers, the cube holds new
objects and rewritten chunks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .journal import MANIFEST, journal_root, object_path
from .storage import filesystem, is_remote, protocol

LOCAL_STAGE = ".append-"
LOCAL_MANIFEST = "publish.json"
KIND = "append"
METADATA_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})


def is_metadata(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in METADATA_NAMES


def publication_order(keys: Iterable[str]) -> list[str]:
    """Data chunks first, then array metadata, then the group's; consolidated metadata last (the
    commit point for readers)."""

    def rank(key: str) -> int:
        if not is_metadata(key):
            return 0
        if "/" in key:
            return 1
        return 3 if key in (".zmetadata", "zarr.json") else 2

    return sorted(keys, key=lambda k: (rank(k), k))


def move_local(src: str, dst: str) -> None:
    """Move one staged file into the cube folder (atomic on one file system)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.replace(src, dst)


def copy_object(fs, src: str, dst: str) -> None:
    """Copy one staged object over the cube's (the journal keeps the staged copy until commit)."""
    fs.copy(src, dst)


class StagedAppend:
    """The staging area of one append to the cube at `target` (a folder or an object-store URL)."""

    def __init__(self, target: str, storage_options: dict[str, Any] | None = None):
        self.target = target.rstrip("/")
        self.remote = is_remote(self.target)
        self.fs = filesystem(self.target, storage_options) if self.remote else None
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if self.remote:
            self.journal = f"{journal_root(self.target)}/{time.strftime('%Y%m%dT%H%M%S')}-{token}"
            self.path = f"{protocol(self.target)}://{self.journal}/stage"
        else:
            self.journal = ""
            self.path = f"{self.target}{LOCAL_STAGE}{token}"
        self.committed = False

    # -- staging ----------------------------------------------------------------------------------
    def begin(self, keys: Iterable[str]) -> str:
        """Create the staging area with copies of the cube's `keys` that exist (metadata, and the
        chunks the run rewrites through zarr); returns the staging path the run writes to."""
        if not self.remote:
            os.makedirs(self.path)
        base, stage = object_path(self.target), object_path(self.path)
        for key in keys:
            if self.remote:
                if self.fs.exists(f"{base}/{key}"):
                    self.fs.copy(f"{base}/{key}", f"{stage}/{key}")
            elif os.path.exists(os.path.join(self.target, key)):
                dst = os.path.join(self.path, key)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(os.path.join(self.target, key), dst)
        if self.remote:
            self.fs.invalidate_cache()
        return self.path

    def _staged(self) -> list[str]:
        stage = object_path(self.path)
        if self.remote:
            self.fs.invalidate_cache()
            return [p[len(stage) + 1 :] for p in self.fs.find(stage)]
        found = []
        for folder, _, files in os.walk(self.path):
            rel = os.path.relpath(folder, self.path)
            found += [name if rel == "." else f"{rel}/{name}" for name in files]
        return [k for k in found if k != LOCAL_MANIFEST]

    def _unchanged(self, key: str) -> bool:
        """A staged metadata file equal to the published one need not be published."""
        if self.remote:
            try:
                return self.fs.cat_file(f"{object_path(self.target)}/{key}") == self.fs.cat_file(
                    f"{object_path(self.path)}/{key}"
                )
            except FileNotFoundError:
                return False
        published = Path(self.target, key)
        return published.exists() and published.read_bytes() == Path(self.path, key).read_bytes()

    # -- publication ------------------------------------------------------------------------------
    def publish(self) -> None:
        keys = [k for k in publication_order(self._staged()) if not (is_metadata(k) and self._unchanged(k))]
        manifest = json.dumps({"version": 1, "kind": KIND, "state": "publishing", "keys": keys}).encode()
        if self.remote:
            self.fs.pipe_file(f"{self.journal}/{MANIFEST}", manifest)
        else:
            tmp = os.path.join(self.path, LOCAL_MANIFEST + ".tmp")
            with open(tmp, "wb") as handle:
                handle.write(manifest)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, os.path.join(self.path, LOCAL_MANIFEST))
        self.committed = True  # from here on, the append completes (now or by recovery)
        if self.remote:
            _roll_forward_remote(self.fs, self.target, self.journal, keys, staged=set(keys))
        else:
            _roll_forward_local(self.target, self.path, keys)

    def abort(self) -> None:
        """Drop the staging area of a run that failed before its commit point (after it, the
        staging area is what recovery rolls forward, so it stays)."""
        if self.committed:
            return
        if self.remote:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.journal, recursive=True)
            self.fs.invalidate_cache()
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def _roll_forward_local(target: str, stage: str, keys: list[str]) -> None:
    for key in keys:
        src = os.path.join(stage, key)
        if not os.path.exists(src):
            continue  # moved already (by the run, or by an earlier recovery)
        move_local(src, os.path.join(target, key))
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(stage, LOCAL_MANIFEST))
    shutil.rmtree(stage, ignore_errors=True)


def _roll_forward_remote(fs, target: str, journal: str, keys: list[str], staged: set[str]) -> None:
    base, stage = object_path(target), f"{journal}/stage"
    for key in keys:
        if key not in staged:
            continue
        copy_object(fs, f"{stage}/{key}", f"{base}/{key}")
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(f"{journal}/{MANIFEST}")
    with contextlib.suppress(FileNotFoundError):
        fs.rm(journal, recursive=True)
    fs.invalidate_cache()


# -- recovery (the caller holds the cube's lock, or knows its writer is dead) -----------------------


def finish_remote(fs, target: str, journal: str) -> bool:
    """Complete a committed append journal at `journal`; False if it is not an append journal
    (no manifest — nothing was published, the caller drops it — or a rollback journal)."""
    fs.invalidate_cache()
    try:
        manifest = json.loads(fs.cat_file(f"{journal}/{MANIFEST}"))
    except FileNotFoundError:
        return False
    if manifest.get("kind") != KIND:
        return False
    stage = f"{journal}/stage"
    staged = {p[len(stage) + 1 :] for p in fs.find(stage)} if fs.exists(stage) else set()
    _roll_forward_remote(fs, target, journal, list(manifest.get("keys", [])), staged)
    return True


def local_leftovers(target: str) -> list[Path]:
    t = Path(target)
    return sorted(t.parent.glob(f"{t.name}{LOCAL_STAGE}*"))


def recover_local(target: str) -> bool:
    """Roll forward committed appends left beside a local cube and drop uncommitted ones."""
    found = local_leftovers(target)
    for stage in found:
        manifest = stage / LOCAL_MANIFEST
        if manifest.exists():
            keys = json.loads(manifest.read_text()).get("keys", [])
            _roll_forward_local(target.rstrip("/"), str(stage), keys)
        else:
            shutil.rmtree(stage, ignore_errors=True)
    return bool(found)
