"""Atomic publication: killing a run mid-write leaves the previous cube readable and unchanged;
append adds later steps only, and equals a full run; rechunk keeps the values."""

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


def test_append_equals_full_run_and_refuses_overlap(workspace):
    full = write_config(workspace, output={"path": "full.zarr"})
    assert runner.invoke(app, ["gen", str(full)]).exit_code == 0
    base = write_config(workspace)
    first = _with_time(base, "2024-06-01", "2024-06-03", "first.yaml")
    later = _with_time(base, "2024-06-04", "2024-06-06", "later.yaml")
    assert runner.invoke(app, ["gen", str(first)]).exit_code == 0
    result = runner.invoke(app, ["append", str(later)])
    assert result.exit_code == 0, result.output
    got = xr.open_zarr(workspace / "cube.zarr", consolidated=True)
    expected = xr.open_zarr(workspace / "full.zarr", consolidated=True)
    assert got.sizes["time"] == 6
    for name in expected.data_vars:
        np.testing.assert_array_equal(got[name].values, expected[name].values, err_msg=name)
    assert got.attrs["time_coverage_end"] == "2024-06-06T00:00:00"
    assert "append" in got.attrs["history"]
    # Overlapping or out-of-order steps are refused with one line, and the cube is untouched.
    before, files = _snapshot(workspace / "cube.zarr")
    for start, end in (("2024-06-06", "2024-06-07"), ("2024-05-20", "2024-05-21")):
        bad = _with_time(base, start, end, "bad.yaml")
        result = runner.invoke(app, ["append", str(bad)])
        assert result.exit_code == 2
        assert "overlap or precede the cube, which ends at 2024-06-06" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    after, files_after = _snapshot(workspace / "cube.zarr")
    _assert_same(before, after)
    assert files == files_after


@pytest.mark.slow
def test_append_killed_mid_write_leaves_cube_as_it_was(workspace):
    base = write_config(workspace)
    first = _with_time(base, "2024-06-01", "2024-06-02", "first.yaml")  # partial first time chunk (4)
    later = _with_time(base, "2024-06-03", "2024-06-06", "later.yaml")
    assert runner.invoke(app, ["gen", str(first)]).exit_code == 0
    cube = workspace / "cube.zarr"
    before, _ = _snapshot(cube)
    start_chunks = _chunk_files(cube)
    process = start_slow(["append", str(later)], delay=0.3)
    _wait_for(lambda: _chunk_files(cube) >= start_chunks + 10, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    after, _ = _snapshot(cube)
    _assert_same(before, after)
    assert xr.open_zarr(cube).sizes["time"] == 2
    # Re-running the append completes it.
    assert runner.invoke(app, ["append", str(later)]).exit_code == 0
    assert xr.open_zarr(cube).sizes["time"] == 6


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
