"""Deep validation: read and decode every stored chunk of a cube, naming each one that fails.

Metadata checks cannot see a chunk whose bytes are damaged (a truncated upload, a disk error, a
stray write): readers only fail when they reach it, in the middle of an analysis. `check_chunks`
lists the objects of every array, maps each key to its chunk index — a key that is no chunk of the
array, or lies beyond its shape, is reported too: the leftover of an interrupted writer — and
decodes each chunk through zarr itself, so exactly what a reader would hit is reported, as
"<variable>: chunk <key> ...". Chunks that are not stored are the fill value, as zarr reads them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zarr

from .journal import object_path
from .overlay import is_metadata
from .storage import filesystem, is_remote
from .writer import zarr_store


def _root(path: str) -> str:
    return object_path(path) if is_remote(path) else os.path.abspath(path)


def _stored(fs, folder: str) -> list[str]:
    """Keys under `folder`, relative to it."""
    return sorted(p[len(folder) + 1 :] for p in fs.find(folder))


def _chunk_index(array: zarr.Array, key: str) -> tuple[int, ...] | None:
    """The chunk index that `key` encodes for `array`, or None when it is no chunk key of it."""
    ints = tuple(int(d) for d in re.findall(r"\d+", key))
    candidates = [ints] if array.ndim else [()]
    for index in candidates:
        if len(index) == array.ndim and array.metadata.encode_chunk_key(index) == key:
            return index
    return None


def _units(name: str, array: zarr.Array, keys: list[str]) -> Iterator[tuple[str, Any] | str]:
    """(key, selection) per stored chunk of `array`; a problem string for any other key."""
    chunk = array.shards or array.chunks
    grid = tuple(math.ceil(s / c) for s, c in zip(array.shape, chunk, strict=True))
    for key in keys:
        if is_metadata(key):
            continue
        index = _chunk_index(array, key)
        if index is None:
            yield f"{name}: stray object {key!r} (not a chunk key of this array)"
        elif any(i >= g for i, g in zip(index, grid, strict=True)):
            yield f"{name}: chunk {key} lies outside the array's shape {tuple(array.shape)}"
        else:
            yield (
                key,
                tuple(
                    slice(i * c, min((i + 1) * c, s))
                    for i, c, s in zip(index, chunk, array.shape, strict=True)
                ),
            )


def _decode(name: str, array: zarr.Array, key: str, selection) -> str | None:
    try:
        array[selection]
    except Exception as exc:  # whatever a reader would get: codec errors, wrong sizes, I/O errors
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return f"{name}: chunk {key} cannot be decoded ({reason})"
    return None


def _overlaps(selection: tuple[slice, ...], within: tuple[slice, ...]) -> bool:
    """Whether a chunk's selection shares an element with `within` (slices with steps of 1)."""
    return all(
        chunk.start < (w.stop if w.stop is not None else chunk.stop) and (w.start or 0) < chunk.stop
        for chunk, w in zip(selection, within, strict=True)
    )


def check_chunks(
    path: str,
    storage_options: dict[str, Any] | None = None,
    names: list[str] | None = None,
    *,
    first_only: bool = False,
    workers: int = 4,
    within: tuple[slice, ...] | None = None,
) -> list[str]:
    """One problem per damaged, stray or out-of-shape chunk of the cube at `path` (or of the
    arrays in `names`); with `first_only`, stop at the first. With `within` (index slices of the
    named arrays), only the chunks overlapping that region are decoded, and only they are
    reported: a reader whose read failed learns which chunk it read is damaged, without decoding
    the whole array."""
    group = zarr.open_group(zarr_store(path, storage_options, read_only=True), mode="r")
    fs = filesystem(path, storage_options)
    root = _root(path)
    problems: list[str] = []
    work: list[tuple[str, zarr.Array, str, Any]] = []
    for name, array in sorted(group.arrays(), key=lambda item: item[0]):
        if names is not None and name not in names:
            continue
        for unit in _units(name, array, _stored(fs, f"{root}/{name}")):
            if isinstance(unit, str):
                if within is None:  # a stray or out-of-shape key is no part of any read
                    problems.append(unit)
            elif within is None or _overlaps(unit[1], within):
                work.append((name, array, *unit))
    if first_only:
        if problems:
            return problems[:1]
        for item in work:
            problem = _decode(*item)
            if problem:
                return [problem]
        return []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems += [p for p in pool.map(lambda item: _decode(*item), work) if p]
    return problems


def stored_megabytes(path: str, storage_options: dict[str, Any] | None = None) -> float:
    """The cube's size in MiB (every object under it)."""
    fs = filesystem(path, storage_options)
    return float(fs.du(_root(path))) / 2**20


def first_damaged(
    path: str,
    name: str,
    storage_options: dict[str, Any] | None = None,
    within: tuple[slice, ...] | None = None,
) -> str | None:
    """The line for the first chunk of variable `name` (in `within`, if given) that cannot be
    decoded, or None: what a reader says after a failed read. A check that cannot run itself is no
    damaged chunk either; the reader's own error then stands."""
    try:
        found = check_chunks(path, storage_options, names=[name], first_only=True, within=within)
    except Exception:
        return None
    return found[0] if found else None
