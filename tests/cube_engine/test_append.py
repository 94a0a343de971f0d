"""`append` continues a cube with what the sources hold after its last step: the config the cube was
built from works as is (up to `time.end`, or open-ended), the result equals a full run, and nothing
new is a note with exit code 0 and the cube unchanged to the byte."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from cube_engine.cli import app
from cube_engine.config import TimeConfig
from cube_engine.errors import TimeAxisError
from cube_engine.steps import append_starts
from tests.cube_engine.conftest import diff_snapshots, tree_snapshot, write_config

runner = CliRunner()


def _config(folder: Path, name: str, **time) -> Path:
    """The test config with `time` keys replaced (None removes the key)."""
    path = write_config(folder, name)
    data = yaml.safe_load(path.read_text())
    for key, value in time.items():
        if value is None:
            data["time"].pop(key, None)
        else:
            data["time"][key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _assert_equal_cubes(got: Path, expected: Path) -> None:
    a, b = xr.open_zarr(got, consolidated=True), xr.open_zarr(expected, consolidated=True)
    assert a.sizes == b.sizes
    for name in b.variables:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("cube.zarr."))


def test_append_with_the_build_config_adds_what_is_new_and_equals_a_full_run(workspace):
    full = write_config(workspace, "full.yaml", output={"path": "full.zarr"})
    assert runner.invoke(app, ["gen", str(full)]).exit_code == 0
    built = _config(workspace, "cube.yaml", end="2024-06-02")  # 2 of a 4-step time chunk
    assert runner.invoke(app, ["gen", str(built)]).exit_code == 0
    cube = workspace / "cube.zarr"

    # The build config again: its axis ends where the cube ends, so nothing is new.
    before = tree_snapshot(cube)
    result = runner.invoke(app, ["append", str(built)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Nothing to append to") and "2024-06-02" in result.stdout
    assert result.stderr == ""
    assert diff_snapshots(before, tree_snapshot(cube)) == []

    # The same config, open-ended: whatever the sources hold after the cube's last step.
    open_ended = _config(workspace, "cube.yaml", end=None)
    result = runner.invoke(app, ["append", str(open_ended)])
    assert result.exit_code == 0, result.output
    assert "4 time steps" in result.stdout
    _assert_equal_cubes(cube, workspace / "full.zarr")
    ds = xr.open_zarr(cube, consolidated=True)
    assert ds.attrs["time_coverage_end"] == "2024-06-06T00:00:00"
    assert "append 2024-06-03T00:00:00..2024-06-06T00:00:00" in ds.attrs["history"]
    assert _leftovers(workspace) == []

    before = tree_snapshot(cube)
    result = runner.invoke(app, ["append", str(open_ended)])
    assert result.exit_code == 0 and result.stdout.startswith("Nothing to append")
    assert diff_snapshots(before, tree_snapshot(cube)) == []
    assert runner.invoke(app, ["validate", "--deep", str(cube)]).exit_code == 0


def test_append_stops_at_time_end(workspace):
    assert runner.invoke(app, ["gen", str(_config(workspace, "a.yaml", end="2024-06-02"))]).exit_code == 0
    upto = _config(workspace, "b.yaml", end="2024-06-04")
    assert runner.invoke(app, ["append", str(upto)]).exit_code == 0
    assert xr.open_zarr(workspace / "cube.zarr").sizes["time"] == 4
    result = runner.invoke(app, ["append", str(upto)])
    assert result.exit_code == 0 and "up to time.end 2024-06-04" in result.stdout


def test_append_refuses_a_config_whose_axis_misses_the_cube(workspace):
    assert runner.invoke(app, ["gen", str(_config(workspace, "a.yaml", end="2024-06-03"))]).exit_code == 0
    before = tree_snapshot(workspace / "cube.zarr")
    shifted = _config(workspace, "b.yaml", start="2024-06-01T12:00:00", end=None)
    result = runner.invoke(app, ["append", str(shifted)])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "the cube's last step 2024-06-03 is not a period start of the config's axis" in line
    assert diff_snapshots(before, tree_snapshot(workspace / "cube.zarr")) == []
    assert _leftovers(workspace) == []


@dataclass
class _Source:
    """What `append_starts` reads of a discovered source."""

    obs_time: np.ndarray
    static: bool = False


def _obs(*stamps: str) -> list[_Source]:
    return [_Source(np.array(stamps, dtype="datetime64[ns]")), _Source(np.array([], "datetime64[ns]"), True)]


CUBE = pd.DatetimeIndex(["2024-06-01", "2024-06-02", "2024-06-03"])


@pytest.mark.parametrize(
    ("time", "observations", "expected"),
    [
        # open-ended: up to the period of the latest observation, skipping nothing in between
        ({"start": "2024-06-01"}, ("2024-06-02T10", "2024-06-05T22"), ["2024-06-04", "2024-06-05"]),
        # an end before the latest observation stops there
        ({"start": "2024-06-01", "end": "2024-06-04"}, ("2024-06-09",), []),
        ({"start": "2024-06-01", "end": "2024-06-06"}, ("2024-06-04T01", "2024-06-09"), ["2024-06-04"]),
        # nothing after the cube: nothing to add
        ({"start": "2024-06-01"}, ("2024-05-30", "2024-06-03T23"), []),
        # a later start leaves a gap, as asked
        ({"start": "2024-06-10"}, ("2024-06-11T06",), ["2024-06-10", "2024-06-11"]),
        # 2-day periods: the cube's last step is on the config's axis (from 2024-05-30)
        ({"start": "2024-05-30", "frequency": "2D"}, ("2024-06-04", "2024-06-06"), ["2024-06-05"]),
    ],
)
def test_append_starts(time, observations, expected):
    got = append_starts(TimeConfig(**time), CUBE, _obs(*observations))
    assert [str(t.date()) for t in got] == expected


def test_append_starts_refuses_an_axis_that_misses_the_cube():
    with pytest.raises(TimeAxisError, match="not a period start"):
        append_starts(TimeConfig(start="2024-05-31", frequency="2D"), CUBE, _obs("2024-06-09"))


@pytest.mark.slow
def test_demo_extend_then_append_equals_a_longer_demo(tmp_path):
    short, long = tmp_path / "short", tmp_path / "long"
    for args in (
        ["demo-data", str(short), "--days", "4"],
        ["gen", str(short / "cube.yaml")],
        ["demo-data", str(short), "--extend", "3"],
        ["append", str(short / "cube.yaml")],
        ["demo-data", str(long), "--days", "7"],
        ["gen", str(long / "cube.yaml")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    _assert_equal_cubes(short / "cube.zarr", long / "cube.zarr")
    assert xr.open_zarr(short / "cube.zarr").sizes["time"] == 7
    # Extending writes the same files a longer sample has.
    for name in ("meteo/meteo_20240607.nc", "lst/lst_20240607.nc", "s2/s2_20240607.nc"):
        expected = xr.open_dataset(long / name)
        got = xr.open_dataset(short / name)
        xr.testing.assert_identical(got.load(), expected.load())
