"""Each bad input: one line naming the culprit, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cube_engine.cli import app
from tests.cube_engine.conftest import write_config

runner = CliRunner()


def _config(workspace: Path, mutate) -> Path:
    path = write_config(workspace)
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _corrupt(workspace: Path):
    bad = workspace / "bad"
    bad.mkdir()
    (bad / "meteo_20240601.nc").write_bytes(b"CDF\x01 this is not a netcdf file" * 10)
    return lambda d: d["sources"][0].update(paths=[str(bad / "*.nc")])


CASES = {
    "mistyped key": (
        lambda w: lambda d: d["sources"][1].update(resamplin="nearest"),
        "Invalid configuration: unknown key 'resamplin' (did you mean 'resampling'?) for sources.1",
    ),
    "missing file": (
        lambda w: lambda d: d["sources"][2].update(paths=["s2/nothing_*.nc"]),
        "source 's2' (sources.2.paths): no file matches",
    ),
    "corrupt file": (_corrupt, "source 'meteo' (sources.0): cannot read"),
    "unknown variable": (
        lambda w: lambda d: d["sources"][0]["variables"][1].update(name="tpp"),
        "variable 'tpp' not in",
    ),
    "no overlap": (
        lambda w: lambda d: d.update(grid={**d["grid"], "bbox": [40.0, 0.0, 41.0, 1.0]}),
        "does not overlap the target grid",
    ),
    "no transformation": (
        lambda w: (
            lambda d: d.update(grid={"crs": "IAU_2015:49900", "bbox": [0, 0, 1, 1], "resolution": 0.01})
        ),
        "no transformation from",
    ),
    "no data in time range": (
        lambda w: lambda d: d.update(time={"start": "2030-01-01", "end": "2030-01-05"}),
        "time: no observation of any source falls between 2030-01-01 and 2030-01-05",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_nothing_written(workspace, case):
    make, expected = CASES[case]
    path = _config(workspace, make(workspace))
    before = sorted(p.name for p in workspace.iterdir())
    result = runner.invoke(app, ["gen", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert sorted(p.name for p in workspace.iterdir()) == before


def test_real_process_prints_one_line_and_traceback_is_opt_in(workspace):
    path = _config(workspace, lambda d: d["grid"].update(resolution=0.03))
    cmd = [sys.executable, "-m", "cube_engine.cli"]
    proc = subprocess.run([*cmd, "gen", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("cube-engine: error: ") and "for grid.bbox" in proc.stderr
    proc = subprocess.run([*cmd, "--traceback", "gen", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
