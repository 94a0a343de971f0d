"""Where a use case runs: the cube it reads and the compute it uses, both from the environment the
platform's JupyterHub gives each server, so a notebook carries no paths or credentials of its own.

- the cube: a local folder or `s3://bucket/cube.zarr`; S3 credentials come from the standard AWS chain
  (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_ENDPOINT_URL`, ...), which s3fs/botocore read themselves;
- the compute: the Dask cluster at `DASK_SCHEDULER_ADDRESS` when it is set, else local threads
  (a local process cluster is slower than threads on small machines).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import xarray as xr

from cube_engine.api import open_cube

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def load_cube(path: str) -> xr.Dataset:
    """Open a published cube lazily through the cube engine's public API (recovers what a killed
    writer left; a missing cube or credential is one clear error line)."""
    return open_cube(path)


@contextmanager
def compute_on_platform(address: str | None = None) -> Iterator[str]:
    """Make the Dask cluster at `address` (default: `$DASK_SCHEDULER_ADDRESS`) the default scheduler
    for the block; yields a one-line description of where the work runs."""
    address = address if address is not None else os.environ.get(SCHEDULER_ENV, "")
    if not address:
        yield "local threads"
        return
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        workers = len(client.scheduler_info().get("workers", {}))
        yield f"dask cluster {address} ({workers} workers)"
