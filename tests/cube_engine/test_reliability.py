"""Atomic publication: killing a gen mid-write leaves the previous cube readable and unchanged;
rechunk keeps the values. (Append: test_append.py and test_append_kill.py.)"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from cube_engine.cli import app
from tests.cube_engine.conftest import start_slow, write_config

runner = CliRunner()


def _snapshot(path: Path) -> tuple[dict, dict]:
    ds = xr.open_zarr(path, consolidated=True)
    values = {name: ds[name].values.copy() for name in ds.variables}
    files = {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    return values, files


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _with_time(path: Path, start: str, end: str, name: str) -> Path:
    data = yaml.safe_load(path.read_text())
    data["time"].update(start=start, end=end)
    new = path.with_name(name)
    new.write_text(yaml.safe_dump(data, sort_keys=False))
    return new


def _wait_for(predicate, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _chunk_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and p.name[0].isdigit()) if folder.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_chunks", [1, 40])
def test_gen_killed_mid_write_leaves_previous_cube_unchanged(workspace, kill_after_chunks):
    config = write_config(workspace)
    assert runner.invoke(app, ["gen", str(config)]).exit_code == 0
    cube = workspace / "cube.zarr"
    before_values, before_files = _snapshot(cube)
    process = start_slow(["gen", str(config)])
    _wait_for(
        lambda: any(_chunk_files(p) >= kill_after_chunks for p in workspace.glob("cube.zarr.staging-*")),
        process,
    )
    process.send_signal(signal.SIGKILL)
    process.wait()
    after_values, after_files = _snapshot(cube)
    _assert_same(before_values, after_values)
    assert after_files == before_files
    # The next run cleans up the dead run's staging folder and publishes normally.
    assert runner.invoke(app, ["gen", str(config)]).exit_code == 0
    assert not list(workspace.glob("cube.zarr.staging-*"))
    _assert_same(before_values, _snapshot(cube)[0])


def test_rechunk_timeseries_keeps_values(workspace):
    config = write_config(workspace)
    assert runner.invoke(app, ["gen", str(config)]).exit_code == 0
    src = workspace / "cube.zarr"
    dst = workspace / "ts.zarr"
    result = runner.invoke(
        app, ["rechunk", str(src), "--chunks", "time=6,y=20,x=25", "-o", str(dst), "--memory", "1"]
    )
    assert result.exit_code == 0, result.output
    a, b = xr.open_zarr(src), xr.open_zarr(dst)
    assert b.ndvi.encoding["chunks"] == (6, 20, 25) and b.elevation.encoding["chunks"] == (20, 25)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert runner.invoke(app, ["validate", str(dst)]).exit_code == 0
    result = runner.invoke(
        app, ["rechunk", str(src), "--preset", "timeseries", "-o", str(workspace / "p.zarr")]
    )
    assert result.exit_code == 0
    assert xr.open_zarr(workspace / "p.zarr").ndvi.encoding["chunks"] == (6, 64, 64)


def test_a_second_writer_is_refused_and_no_lock_file_outlives_a_run(workspace):
    from cube_engine.publish import target_lock

    config = write_config(workspace)
    cube = workspace / "cube.zarr"
    with target_lock(str(cube)):
        assert (workspace / "cube.zarr.lock").exists()
        result = runner.invoke(app, ["gen", str(config)])
        assert result.exit_code == 2
        [line] = result.stderr.strip().splitlines()
        assert "is being written by another process" in line
        assert not cube.exists()
    assert not (workspace / "cube.zarr.lock").exists()
    for args in (
        ["gen", str(config)],
        ["rechunk", str(cube), "--preset", "timeseries", "-o", str(workspace / "ts.zarr")],
    ):
        assert runner.invoke(app, args).exit_code == 0
    assert sorted(p.name for p in workspace.glob("*.zarr*")) == ["cube.zarr", "ts.zarr"]
