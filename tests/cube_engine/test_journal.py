"""Object-store targets: a rollback journal makes gen/append all-or-nothing. A failed or killed
overwrite or append leaves the previous cube's objects exactly as they were once recovered; success
leaves no journal and no lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import s3fs
import xarray as xr
import yaml
from typer.testing import CliRunner

from cube_engine import api, bands
from cube_engine.cli import app
from cube_engine.config import load_config
from cube_engine.errors import StoreError
from cube_engine.journal import Action, Entry, rollback_journal
from tests.cube_engine.conftest import start_slow, write_config

runner = CliRunner()
pytestmark = pytest.mark.s3
WRITE_TILE = bands.write_tile


@pytest.fixture
def s3(workspace, s3_bucket, s3_server):
    """Writes configs for a small s3 cube (meteo only) and snapshots the bucket."""
    url = f"s3://{s3_bucket}/cubes/c.zarr"
    fs = s3fs.S3FileSystem(**s3_server.storage_options())

    def config(name: str, start: str = "2024-06-01", end: str = "2024-06-06") -> str:
        data = yaml.safe_load(write_config(workspace).read_text())
        data["sources"] = data["sources"][:1]  # meteo: 3 variables, 24 chunks for 6 days
        data["time"].update(start=start, end=end)
        data["output"] = {"path": url, "storage_options": {"endpoint_url": s3_server.endpoint_url}}
        path = workspace / name
        path.write_text(yaml.safe_dump(data))
        return str(path)

    def snapshot() -> dict[str, bytes]:
        fs.invalidate_cache()
        return {p: fs.cat_file(p) for p in fs.find(s3_bucket)}

    def values() -> dict[str, np.ndarray]:
        ds = xr.open_zarr(url, storage_options=s3_server.storage_options(), consolidated=True)
        return {name: ds[name].values for name in ds.variables}

    class S3:
        pass

    s = S3()
    s.url, s.fs, s.bucket, s.config, s.snapshot, s.values = url, fs, s3_bucket, config, snapshot, values
    s.txn, s.lock = f"{s3_bucket}/cubes/c.zarr.txn", f"{s3_bucket}/cubes/c.zarr.lock"
    return s


def _fail_after(monkeypatch, calls: int) -> None:
    original = bands.write_tile
    count = []

    def failing(*args):
        count.append(1)
        if len(count) > calls:
            raise RuntimeError("injected failure mid-write")
        return original(*args)

    monkeypatch.setattr(bands, "write_tile", failing)


def _assert_same(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    assert sorted(before) == sorted(after)
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, changed


def test_overwrite_commits_without_journal_and_a_failed_one_restores_the_cube(s3, monkeypatch):
    assert runner.invoke(app, ["gen", s3.config("a.yaml", end="2024-06-03")]).exit_code == 0
    result = runner.invoke(app, ["gen", s3.config("b.yaml")])
    assert result.exit_code == 0, result.output
    before = s3.snapshot()
    assert not [k for k in before if ".txn" in k or k.endswith(".lock")], list(before)
    assert s3.values()["time"].size == 6
    _fail_after(monkeypatch, 5)
    with pytest.raises(RuntimeError, match="injected"):
        api.gen(load_config(s3.config("a.yaml", end="2024-06-03")))
    _assert_same(before, s3.snapshot())
    assert s3.values()["time"].size == 6


def test_failed_append_leaves_the_cube_as_it_was(s3, monkeypatch):
    assert runner.invoke(app, ["gen", s3.config("a.yaml", end="2024-06-02")]).exit_code == 0  # partial chunk
    before = s3.snapshot()
    _fail_after(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="injected"):
        api.append(load_config(s3.config("b.yaml", start="2024-06-03")))
    _assert_same(before, s3.snapshot())
    monkeypatch.setattr(bands, "write_tile", WRITE_TILE)  # (undo() would also drop the S3 env)
    # ... and the same append then succeeds.
    api.append(load_config(s3.config("b.yaml", start="2024-06-03")))
    assert s3.values()["time"].size == 6


def _kill_when_active(s3, process: subprocess.Popen, new_chunks: int, before: dict[str, bytes]) -> None:
    """SIGKILL the run once its journal is active and it has written `new_chunks` new objects."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        s3.fs.invalidate_cache()
        manifests = s3.fs.glob(f"{s3.txn}/*/manifest.json")
        if manifests:
            state = json.loads(s3.fs.cat_file(manifests[0]))["state"]
            written = [
                p for p in s3.fs.find(f"{s3.bucket}/cubes/c.zarr") if p not in before and p[-1].isdigit()
            ]
            if state == "active" and len(written) >= new_chunks:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
        time.sleep(0.05)
    raise AssertionError("the run never reached the point to kill it")


@pytest.mark.slow
def test_killed_gen_is_rolled_back_by_the_next_command(s3):
    """(A killed append never touches the cube: tests/cube_engine/test_append_kill.py.)"""
    assert runner.invoke(app, ["gen", s3.config("a.yaml", end="2024-06-02")]).exit_code == 0
    before = s3.snapshot()
    old_values = s3.values()
    args = ["gen", s3.config("b.yaml", start="2024-06-01")]
    _kill_when_active(s3, start_slow(args, delay=0.3), 2, before)
    assert s3.snapshot() != before  # the dead run changed the cube and left its journal and lock
    assert s3.fs.exists(s3.lock)
    result = runner.invoke(app, ["info", s3.url])  # any command on the target recovers it first
    assert result.exit_code == 0, result.output
    _assert_same(before, s3.snapshot())
    recovered = s3.values()
    for name, value in old_values.items():
        np.testing.assert_array_equal(value, recovered[name], err_msg=name)
    assert runner.invoke(app, ["validate", s3.url]).exit_code == 0


def test_a_live_lock_stops_a_second_writer(s3):
    s3.fs.pipe_file(
        s3.lock,
        json.dumps(
            {"id": "x", "host": os.uname().nodename, "pid": os.getpid(), "created": time.time()}
        ).encode(),
    )
    with pytest.raises(StoreError, match="being written by another process"):
        api.gen(load_config(s3.config("a.yaml")))
    s3.fs.rm_file(s3.lock)


def test_manifest_actions_are_one_enum(s3):
    assert {a.value for a in Action} == {"create", "replace", "create_all"}
    assert Entry.from_json(Entry(Action.CREATE, "x/0").to_json()) == Entry(Action.CREATE, "x/0")
    root = f"{s3.txn}/bad"
    s3.fs.pipe_file(
        f"{root}/manifest.json",
        json.dumps({"state": "active", "entries": [{"action": "delete", "key": "x"}]}).encode(),
    )
    with pytest.raises(StoreError, match="unknown action 'delete'"):
        rollback_journal(s3.fs, s3.url, root)
