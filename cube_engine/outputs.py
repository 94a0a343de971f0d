"""Where a run may write, checked before it writes, and storage failures as one-line errors.

A bad output location must fail at once with one line naming it, not after minutes of reading
sources, and not as a traceback from deep inside os, botocore or aiohttp. So every command that
writes (`gen`, `append`, `rechunk`, `preview`) first calls `check_output`:

- local: the nearest existing ancestor of the path must be a folder in which a file can be
  created (probed by creating and removing one temporary file: permission bits do not tell, e.g.
  for root under /proc or on a read-only mount);
- object storage: one HEAD of the bucket with a client that neither retries nor waits long, so a
  missing credential, a dead endpoint or a missing bucket is reported in about a second (the
  clients used for the real work keep their retries).

`store_errors` turns the storage exceptions that can still happen later (disk full, endpoint gone
mid-run) into `StoreError`s naming the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import CubeEngineError, StoreError
from .storage import is_remote, normalise_options, protocol

_PROBE_CLIENT = {"connect_timeout": 3, "read_timeout": 10, "retries": {"max_attempts": 1}}


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_local_output(path: str | Path, what: str, *, folder: bool = True) -> None:
    """Raise StoreError unless `path` (a cube folder, or a file when `folder` is false; existing or
    not) can be created or replaced. Creates nothing that outlives the call."""
    target = Path(os.path.abspath(path))
    if target.exists() and target.is_dir() != folder:
        kind = "a file, not a folder" if folder else "a folder, not a file"
        raise StoreError(f"{what}: {path} is {kind}")
    ancestor = _nearest_existing(target.parent)
    if not ancestor.is_dir():
        raise StoreError(f"{what}: cannot create {path}: {ancestor} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".cube-engine-probe-")
    except OSError as exc:
        raise StoreError(
            f"{what}: cannot create {path}: {ancestor} does not accept new files ({exc.strerror})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _probe_filesystem(url: str, storage_options: dict[str, Any] | None):
    """An s3fs client for one quick check: no retries, short timeouts, never cached or shared."""
    import s3fs

    options = normalise_options(url, storage_options)
    config = {**_PROBE_CLIENT, **(options.pop("config_kwargs", None) or {})}
    config["retries"] = {"max_attempts": 1}
    fs = s3fs.S3FileSystem(skip_instance_cache=True, config_kwargs=config, **options)
    fs.retries = 1
    return fs


def endpoint_of(url: str, storage_options: dict[str, Any] | None) -> str:
    options = normalise_options(url, storage_options)
    return (options.get("client_kwargs") or {}).get("endpoint_url") or os.environ.get(
        "AWS_ENDPOINT_URL", "the default AWS endpoint"
    )


def describe(exc: BaseException, url: str, storage_options: dict[str, Any] | None = None) -> str:
    """A one-line, user-facing reason for a storage exception."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name == "NoCredentialsError" or "Unable to locate credentials" in text:
        return (
            "no S3 credentials (Unable to locate credentials): set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE, or storage_options key/secret"
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ConnectionError"):
        return f"cannot reach the S3 endpoint {endpoint_of(url, storage_options)} ({text})"
    if name in ("ReadTimeoutError", "TimeoutError", "FSTimeoutError"):
        return f"the S3 endpoint {endpoint_of(url, storage_options)} did not answer in time"
    if isinstance(exc, PermissionError):
        return f"access denied ({exc.strerror or text})"
    if isinstance(exc, FileNotFoundError):
        return f"not found ({exc.strerror or text})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{name}: {text}" if text else name


def _bucket(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def check_remote(url: str, storage_options: dict[str, Any] | None, what: str) -> None:
    """Raise StoreError unless the bucket of `url` answers with these credentials (one request)."""
    if protocol(url) != "s3":
        return
    bucket = _bucket(url)
    try:
        fs = _probe_filesystem(url, storage_options)
        fs.call_s3("head_bucket", Bucket=bucket)
    except CubeEngineError:
        raise
    except FileNotFoundError:
        raise StoreError(
            f"{what}: {url}: no bucket {bucket!r} at {endpoint_of(url, storage_options)}"
        ) from None
    except Exception as exc:
        raise StoreError(f"{what}: {url}: {describe(exc, url, storage_options)}") from None


def check_output(path: str, storage_options: dict[str, Any] | None, what: str = "output.path") -> None:
    """Fail fast, with one line naming `what`, when nothing can be written at `path`."""
    if is_remote(path):
        check_remote(path, storage_options, what)
    else:
        check_local_output(path, what)


@contextlib.contextmanager
def store_errors(
    path: str, storage_options: dict[str, Any] | None = None, what: str = "output.path"
) -> Iterator[None]:
    """Report storage failures inside the block as StoreError naming `path` (engine errors and
    bugs pass through unchanged)."""
    try:
        yield
    except CubeEngineError:
        raise
    except Exception as exc:
        if not _is_storage_error(exc):
            raise
        raise StoreError(f"{what}: cannot write {path}: {describe(exc, path, storage_options)}") from None


def _is_storage_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("botocore", "aiobotocore", "aiohttp", "s3fs"))


def make_parents(folder: Path) -> list[Path]:
    """Create `folder` and its missing ancestors; returns the ones created (deepest last)."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return list(reversed(missing))


def remove_if_empty(created: list[Path]) -> None:
    """Undo `make_parents` for folders that ended up empty (a failed first run leaves nothing)."""
    for path in reversed(created):
        with contextlib.suppress(OSError):
            path.rmdir()
