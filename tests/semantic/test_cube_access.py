"""The loader opens cubes through the engine's access layer: it never reads a cube that an engine
transaction has left half-written on object storage. A live writer's cube is refused with one line;
a killed writer's cube is rolled back first, and the load holds the cube as it was before. A writer
that starts during a load and is still running at its commit is seen: the load rolls back."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest
import s3fs
import xarray as xr

from cube_engine import api as engine_api
from cube_engine.errors import StoreError
from cube_engine.journal import journal_root, object_path
from semantic import api
from semantic.cube import select
from semantic.errors import CubeError
from tests.semantic.conftest import database_state, drop_cube, fetch
from tests.semantic.cubes import make_cube
from tests.semantic.half_written import REWRITTEN, REWRITTEN_WITH, half_written
from tests.semantic.test_cli_errors import assert_one_line_error, run_cli

pytestmark = pytest.mark.s3
REFUSAL = "changing it in place"


@pytest.fixture
def s3_cube(s3_bucket, s3_server) -> tuple[str, dict, s3fs.S3FileSystem]:
    options = s3_server.storage_options()
    uri = make_cube(f"s3://{s3_bucket}/live.zarr", storage_options=options, height=10, width=5, times=2)
    fs = s3fs.S3FileSystem(**options)
    base = object_path(uri)
    assert fs.cat_file(f"{base}/{REWRITTEN}") != fs.cat_file(f"{base}/{REWRITTEN_WITH}")
    return uri, options, fs


def _t2m(uri: str, options: dict) -> np.ndarray:
    return xr.open_zarr(uri, storage_options=options, consolidated=True)["t2m"].values


def test_a_cube_a_live_writer_is_changing_is_refused_by_both_halves(s3_cube):
    uri, options, _ = s3_cube
    original = _t2m(uri, options)
    with half_written(uri, options):
        assert not np.array_equal(_t2m(uri, options), original, equal_nan=True)  # really half-written
        line = assert_one_line_error(
            run_cli("load", uri, "--dsn", "postgresql://nobody@127.0.0.1:9/none", "--quiet"), REFUSAL
        )
        assert uri in line and "journal" in line
        with pytest.raises(CubeError, match=REFUSAL):
            select(uri, storage_options=options)
        with pytest.raises(StoreError, match=REFUSAL):
            engine_api.open_cube(uri, options)
    # the writer rolled back: the same open now reads the cube as it was
    np.testing.assert_array_equal(select(uri, storage_options=options).dataset["t2m"].values, original)


@pytest.mark.postgis
def test_a_killed_writer_is_rolled_back_before_the_load(postgis, engine, s3_cube, request):
    uri, options, fs = s3_cube
    original = _t2m(uri, options)
    killed = subprocess.run(
        [sys.executable, "-m", "tests.semantic.half_written", uri, json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    fs.invalidate_cache()
    assert fs.exists(journal_root(uri)) and fs.exists(f"{object_path(uri)}.lock")
    assert not np.array_equal(_t2m(uri, options), original, equal_nan=True)

    report = api.load(uri, postgis.dsn, cube_id="killed_writer", storage_options=options)
    request.addfinalizer(lambda: drop_cube(engine, "killed_writer"))

    assert report.n_observations == original.size
    rows = fetch(engine, 'SELECT time, cell_id, t2m FROM deepcube."obs_killed_writer" ORDER BY time, cell_id')
    loaded = np.array([np.nan if value is None else value for _, _, value in rows], dtype=np.float32)
    np.testing.assert_array_equal(loaded, original.reshape(-1))  # times x (row-major cells)
    fs.invalidate_cache()
    assert not fs.exists(journal_root(uri)) and not fs.exists(f"{object_path(uri)}.lock")
    np.testing.assert_array_equal(_t2m(uri, options), original)


@pytest.mark.postgis
def test_a_writer_that_starts_during_the_load_rolls_it_back(postgis, engine, s3_cube, request):
    uri, options, _ = s3_cube
    request.addfinalizer(lambda: drop_cube(engine, "writer_during_load"))
    first = api.load(uri, postgis.dsn, cube_id="writer_during_load", storage_options=options)
    before = database_state(engine)
    started: list[str] = []
    with contextlib.ExitStack() as writer:

        def start_writer_while_copying(phase: str, done: int, total: int) -> None:
            if not started:  # the first progress of the load: the cube is open and being read
                started.append(phase)
                writer.enter_context(half_written(uri, options))

        with pytest.raises(CubeError, match=REFUSAL) as refused:
            api.load(
                uri,
                postgis.dsn,
                cube_id="writer_during_load",
                storage_options=options,
                progress=start_writer_while_copying,
            )
    assert started == ["cells"]
    line = str(refused.value)
    assert "\n" not in line and uri in line and "rolled back" in line
    assert database_state(engine) == before
    # the writer rolled back: the cube loads again, as it was
    again = api.load(uri, postgis.dsn, cube_id="writer_during_load", storage_options=options)
    assert (again.mode, again.n_observations) == ("replace", first.n_observations)
