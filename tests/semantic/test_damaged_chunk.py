"""A damaged chunk (bytes its codec cannot decode) stops a load with one line naming the variable and
the chunk, the way `cube-engine validate --deep` names it, and exit code 2. The load is one
transaction: the cube's previous load stays in the database exactly as it was (every table and
registry row), and what reads only the database (`semantic mapping`) goes on working."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.semantic.conftest import database_state, drop_cube, fetch
from tests.semantic.cubes import make_cube
from tests.semantic.test_cli_errors import assert_one_line_error, run_cli

pytestmark = pytest.mark.postgis
GARBAGE = b"garbage, not a blosc frame"


@pytest.fixture
def loaded(postgis, engine, tmp_path) -> tuple[str, Path]:
    """A small cube (chunks of 2 steps x 5 x 5 cells) loaded whole as 'damaged'; dropped afterwards."""
    cube = Path(make_cube(tmp_path / "cube.zarr"))
    first = run_cli("load", str(cube), "--dsn", postgis.dsn, "--cube-id", "damaged", "-q")
    assert first.exit_code == 0 and first.stdout.startswith("loaded cube 'damaged': 120 cells"), first.output
    yield postgis.dsn, cube
    drop_cube(engine, "damaged")


def _damage(cube: Path, key: str) -> None:
    chunk = cube / key
    assert chunk.stat().st_size > len(GARBAGE)  # a stored chunk, now overwritten
    chunk.write_bytes(GARBAGE)


def test_a_damaged_observation_chunk_is_named_and_the_previous_load_stays(loaded, engine, tmp_path):
    dsn, cube = loaded
    before = database_state(engine)
    t2m = xr.open_zarr(cube)["t2m"].values
    _damage(cube, "t2m/1.1.0")  # steps 2-3, rows 5-9, columns 0-4
    for extra in ((), ("--time", "2020-01-03/2020-01-04")):  # a whole-cube reload, then an append
        line = assert_one_line_error(
            run_cli("load", str(cube), "--dsn", dsn, "--cube-id", "damaged", *extra),  # progress bars on
            f"cannot read cube {cube}: t2m: chunk 1.1.0 cannot be decoded",
            "validate --deep",
        )
        assert "blosc" in line
        assert database_state(engine) == before  # the previous load, every row and registry entry
    counts = fetch(engine, 'SELECT count(*), count(t2m) FROM deepcube."obs_damaged"')
    assert counts == [(t2m.size, int(np.isfinite(t2m).sum()))]  # the whole first load, values and NULLs

    mapping = run_cli("mapping", "damaged", "--dsn", dsn, "-o", str(tmp_path / "mapping"))
    assert mapping.exit_code == 0, mapping.output
    assert (tmp_path / "mapping" / "mapping.r2rml.ttl").stat().st_size > 0

    # the loader reads only the chunks of its selection: the last time chunk is intact
    tail = run_cli("load", str(cube), "--dsn", dsn, "--cube-id", "damaged", "-q", "--time", "2020-01-05/")
    assert tail.exit_code == 0 and tail.stdout.startswith("appended cube 'damaged'"), tail.output


def test_the_chunk_named_is_the_one_the_failed_read_hit(loaded, engine):
    dsn, cube = loaded
    before = database_state(engine)
    _damage(cube, "t2m/0.0.0")  # the first chunk any whole-cube read decodes
    _damage(cube, "t2m/1.1.0")
    whole = run_cli("load", str(cube), "--dsn", dsn, "--cube-id", "damaged", "-q")
    assert_one_line_error(whole, "t2m: chunk 0.0.0 cannot be decoded")
    append = run_cli("load", str(cube), "--dsn", dsn, "--cube-id", "damaged", "-q", "--time", "2020-01-03/")
    line = assert_one_line_error(append, "t2m: chunk 1.1.0 cannot be decoded")
    assert "0.0.0" not in line  # outside the steps this load reads
    assert database_state(engine) == before


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("elevation/1.0", "elevation: chunk 1.0 cannot be decoded"),  # a float layer, read to type it
        ("land_cover/0.1", "land_cover: chunk 0.1 cannot be decoded"),  # read in the transaction
    ],
)
def test_a_damaged_static_chunk_is_named(loaded, engine, tmp_path, key, words):
    dsn, cube = loaded
    copy = tmp_path / "copy.zarr"
    shutil.copytree(cube, copy)
    before = database_state(engine)
    _damage(copy, key)
    assert_one_line_error(
        run_cli("load", str(copy), "--dsn", dsn, "--cube-id", "damaged"), f"cannot read cube {copy}: {words}"
    )
    assert database_state(engine) == before
