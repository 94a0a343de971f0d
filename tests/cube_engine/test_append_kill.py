"""A killed `append` (SIGKILL) never changes the previous cube before its commit point, on a local
folder and on S3: every file/object of the cube is compared byte for byte right after the kill. A
run killed after the commit point is completed by the next reader. Either way the next `validate`
or `append` recovers (no staging area, lock or journal left) and the cube then equals a full run.

Kill moments are drawn from seeded generators, per phase: right after the staging area appears,
after a number of staged chunks, and during publication (each moved object slowed down from
outside the engine, `tests.cube_engine.slow_cli`)."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import s3fs
import xarray as xr
import yaml
from typer.testing import CliRunner

from cube_engine.cli import app
from tests.cube_engine.conftest import diff_snapshots, start_slow, tree_snapshot, write_config

runner = CliRunner()
pytestmark = pytest.mark.slow

# (phase, seed): the seed draws the moment within the phase and the recovery command; these seeds
# recover with `validate` and with `append` both before and after the commit point, on both stores.
LOCAL_MOMENTS = [("staged", 1), ("chunks", 2), ("chunks", 3), ("publishing", 4), ("publishing", 5)]
S3_MOMENTS = [("staged", 11), ("chunks", 12), ("chunks", 15), ("publishing", 13), ("publishing", 16)]


@dataclass
class Target:
    """One append target: how to snapshot the cube, see staged work and recover."""

    url: str
    snapshot: Callable[[], dict[str, bytes]]  # every file/object of the cube: name -> bytes
    staged_chunks: Callable[[], int]  # chunks written to the staging area so far
    committed: Callable[[], bool]  # a publication manifest exists
    leftovers: Callable[[], list[str]]  # anything beside the cube: staging, lock, journal
    values: Callable[[], dict[str, np.ndarray]]


def _is_data_chunk(key: str) -> bool:
    """A chunk of a data variable (not the time coordinate's, which staging starts with a copy of)."""
    variable, _, name = key.rpartition("/")
    return bool(variable) and variable != "time" and name[:1].isdigit()


def _kill_at(process: subprocess.Popen, target: Target, phase: str, rng: random.Random) -> bool:
    """SIGKILL the run at a seeded moment of `phase`; returns whether it had committed."""
    want = rng.randint(1, 12) if phase == "chunks" else 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        ready = {
            "staged": lambda: target.staged_chunks() >= 0,
            "chunks": lambda: target.staged_chunks() >= want,
            "publishing": target.committed,
        }[phase]()
        if ready:
            time.sleep(rng.uniform(0.0, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait()
            return target.committed()
        time.sleep(0.02)
    raise AssertionError(f"the append never reached phase {phase!r}")


def _drill(target: Target, append_args: list[str], reference: Path, phase: str, seed: int) -> None:
    rng = random.Random(seed)
    before, old_values = target.snapshot(), target.values()
    process = start_slow(append_args, delay=0.3, publish_delay=0.05 if phase == "publishing" else 0.0)
    committed = _kill_at(process, target, phase, rng)
    assert committed == (phase == "publishing")
    if not committed:
        assert diff_snapshots(before, target.snapshot()) == []  # byte for byte, no orphan chunk
    # Recovery: a reader (validate) or the next append, chosen by the seed.
    recover_with = rng.choice(["validate", "append"])
    result = runner.invoke(app, [recover_with, target.url] if recover_with == "validate" else append_args)
    assert result.exit_code == 0, result.output
    assert target.leftovers() == []
    if recover_with == "validate":
        if committed:
            _assert_values(target.values(), _reference_values(reference))
        else:
            assert diff_snapshots(before, target.snapshot()) == []
            _assert_values(target.values(), old_values)
        result = runner.invoke(app, append_args)
        assert result.exit_code == 0, result.output
        assert ("Nothing to append" in result.stdout) == committed
    _assert_values(target.values(), _reference_values(reference))
    assert runner.invoke(app, ["validate", "--deep", target.url]).exit_code == 0
    assert target.leftovers() == []


def _reference_values(path: Path) -> dict[str, np.ndarray]:
    ds = xr.open_zarr(path, consolidated=True)
    return {str(n): ds[n].values for n in ds.variables}


def _assert_values(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def _configs(workspace: Path, output: dict | None = None, sources: slice = slice(None)) -> tuple[Path, Path]:
    """The build config (2 of a 4-day time chunk: the append rewrites a partial chunk) and the
    same config open-ended (the append config), plus a full reference cube."""
    data = yaml.safe_load(write_config(workspace).read_text())
    data["sources"] = data["sources"][sources]
    if output is not None:
        data["output"] = output
    build = dict(data, time={**data["time"], "end": "2024-06-02"})
    later = dict(data, time={k: v for k, v in data["time"].items() if k != "end"})
    reference = dict(data, output={"path": "reference.zarr"})
    for name, content in (("build.yaml", build), ("append.yaml", later), ("reference.yaml", reference)):
        (workspace / name).write_text(yaml.safe_dump(content, sort_keys=False))
    assert runner.invoke(app, ["gen", str(workspace / "reference.yaml")]).exit_code == 0
    return workspace / "build.yaml", workspace / "append.yaml"


@pytest.mark.parametrize(("phase", "seed"), LOCAL_MOMENTS)
def test_killed_local_append_leaves_the_previous_cube_unchanged(workspace, phase, seed):
    build, later = _configs(workspace)
    assert runner.invoke(app, ["gen", str(build)]).exit_code == 0
    cube = workspace / "cube.zarr"

    def staged() -> list[Path]:
        return list(workspace.glob("cube.zarr.append-*"))

    def staged_chunks() -> int:
        folders = staged()
        if not folders:
            return -1
        return sum(1 for p in folders[0].rglob("*") if _is_data_chunk(str(p.relative_to(folders[0]))))

    target = Target(
        url=str(cube),
        snapshot=lambda: tree_snapshot(cube),
        staged_chunks=staged_chunks,
        committed=lambda: any((f / "publish.json").exists() for f in staged()),
        leftovers=lambda: sorted(p.name for p in workspace.glob("cube.zarr.*")),
        values=lambda: _reference_values(cube),
    )
    _drill(target, ["append", str(later)], workspace / "reference.zarr", phase, seed)


@pytest.mark.s3
@pytest.mark.parametrize(("phase", "seed"), S3_MOMENTS)
def test_killed_s3_append_leaves_the_previous_cube_unchanged(workspace, s3_bucket, s3_server, phase, seed):
    url = f"s3://{s3_bucket}/cubes/c.zarr"
    output = {"path": url, "storage_options": {"endpoint_url": s3_server.endpoint_url}}
    build, later = _configs(workspace, output, slice(0, 1))  # meteo: 3 variables
    assert runner.invoke(app, ["gen", str(build)]).exit_code == 0
    fs = s3fs.S3FileSystem(**s3_server.storage_options())
    prefix = f"{s3_bucket}/cubes/c.zarr"

    def snapshot() -> dict[str, bytes]:
        fs.invalidate_cache()
        return {p: fs.cat_file(p) for p in fs.find(prefix + "/")}

    def staged_chunks() -> int:
        fs.invalidate_cache()
        found = fs.find(f"{prefix}.txn")
        if not found:
            return -1
        return sum(1 for p in found if "/stage/" in p and _is_data_chunk(p.split("/stage/", 1)[1]))

    def committed() -> bool:
        fs.invalidate_cache()
        return bool(fs.glob(f"{prefix}.txn/*/manifest.json"))

    def leftovers() -> list[str]:
        fs.invalidate_cache()
        return sorted(p for p in fs.find(f"{s3_bucket}/cubes") if not p.startswith(prefix + "/"))

    def values() -> dict[str, np.ndarray]:
        ds = xr.open_zarr(url, storage_options=s3_server.storage_options(), consolidated=True)
        return {str(n): ds[n].values for n in ds.variables}

    target = Target(url, snapshot, staged_chunks, committed, leftovers, values)
    _drill(target, ["append", str(later)], workspace / "reference.zarr", phase, seed)
