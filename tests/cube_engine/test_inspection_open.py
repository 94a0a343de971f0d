"""`info` and `validate` open a cube through the one access layer, consolidated or not.

A cube without consolidated metadata still opens (and says so); a store that cannot be reached
fails at its reachability check, without Zarr ever being asked to read a dead endpoint's keys.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from cube_engine import access
from cube_engine.errors import StoreError
from cube_engine.inspection import open_for_inspection


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_cube_without_consolidated_metadata_opens_and_says_so(tmp_path: Path):
    path = tmp_path / "plain.zarr"
    values = np.arange(12, dtype="float32").reshape(3, 4)
    xr.Dataset({"t2m": (("y", "x"), values)}).to_zarr(path, consolidated=False, zarr_format=2)

    ds, consolidated = open_for_inspection(str(path))

    assert consolidated is False
    np.testing.assert_array_equal(ds["t2m"].values, values)


def test_a_consolidated_cube_opens_consolidated(tmp_path: Path):
    path = tmp_path / "cube.zarr"
    xr.Dataset({"t2m": (("x",), np.ones(4, dtype="float32"))}).to_zarr(path, consolidated=True)

    _, consolidated = open_for_inspection(str(path))

    assert consolidated is True


def test_a_dead_endpoint_fails_at_the_reachability_check(monkeypatch: pytest.MonkeyPatch):
    port = _closed_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    zarr_opens: list[str] = []
    real_open = access.xr.open_zarr
    monkeypatch.setattr(
        access.xr, "open_zarr", lambda path, **kw: zarr_opens.append(path) or real_open(path, **kw)
    )

    with pytest.raises(StoreError, match=rf"cannot reach the S3 endpoint http://127.0.0.1:{port}"):
        open_for_inspection("s3://bucket/cube.zarr")

    assert zarr_opens == []
