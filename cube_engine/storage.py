"""Where files and cubes live: local paths, http(s) URLs and s3:// URLs behind one small API.

Remote NetCDF/GeoTIFF files are copied once into a local cache (HDF5 and GDAL read local files far
faster and more reliably than through Python file objects); Zarr is read and written in place.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

import fsspec

from .errors import SourceError
from .settings import load_settings

GLOB_CHARS = set("*?[")


def protocol(path: str) -> str:
    return path.split("://", 1)[0].lower() if "://" in path else "file"


def is_remote(path: str) -> bool:
    return protocol(path) != "file"


def normalise_options(path: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Accept `endpoint_url` at the top level for s3 (as users write it) and move it where s3fs wants."""
    options = dict(options or {})
    if protocol(path) == "s3" and "endpoint_url" in options:
        client_kwargs = dict(options.get("client_kwargs") or {})
        client_kwargs["endpoint_url"] = options.pop("endpoint_url")
        options["client_kwargs"] = client_kwargs
    return options


def filesystem(path: str, options: dict[str, Any] | None = None) -> fsspec.AbstractFileSystem:
    return fsspec.filesystem(protocol(path), **normalise_options(path, options))


def expand(pattern: str, options: dict[str, Any] | None, what: str) -> list[str]:
    """Files matching a path, glob or URL (sorted); raises SourceError naming `what` if none."""
    proto = protocol(pattern)
    if proto == "file":
        if GLOB_CHARS & set(pattern):
            found = sorted(glob.glob(pattern))
        else:
            found = [pattern] if os.path.exists(pattern) else []
    elif proto in ("http", "https") or not (GLOB_CHARS & set(pattern)):
        found = [pattern]
    else:
        fs = filesystem(pattern, options)
        try:
            found = sorted(f"{proto}://{p}" for p in fs.glob(pattern))
        except Exception as exc:
            raise SourceError(f"{what}: cannot list {pattern}: {exc}") from None
    if not found:
        raise SourceError(f"{what}: no file matches {pattern!r}")
    return found


def cache_dir() -> Path:
    """The download cache (`CUBE_ENGINE_CACHE`), read at each use: a run may set it per process."""
    root = load_settings().cache
    root.mkdir(parents=True, exist_ok=True)
    return root


def local_file(path: str, options: dict[str, Any] | None, what: str) -> str:
    """A local path for `path`, downloading remote files once into the cache."""
    if not is_remote(path):
        if not os.path.exists(path):
            raise SourceError(f"{what}: file not found: {path}")
        return path
    target = cache_dir() / (hashlib.sha256(path.encode()).hexdigest()[:24] + "-" + Path(path).name)
    if target.exists():
        return str(target)
    tmp = target.with_name(target.name + f".part-{os.getpid()}")
    try:
        with fsspec.open(path, "rb", **normalise_options(path, options)) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 22):
                dst.write(block)
        os.replace(tmp, target)
    except FileNotFoundError:
        raise SourceError(f"{what}: file not found: {path}") from None
    except Exception as exc:
        raise SourceError(f"{what}: cannot fetch {path}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return str(target)
