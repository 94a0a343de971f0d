"""A load killed with SIGKILL in the middle of its COPY leaves the database exactly as it was:
a whole-cube replace (COPY into fresh `*__new` tables) and a time-range append (DELETE of the range,
then COPY into the live observations table) alike."""

from __future__ import annotations

import pytest

from semantic import api
from tests.semantic.conftest import database_state, drop_cube, fetch, tables_state
from tests.semantic.cubes import make_cube
from tests.semantic.killing import kill_load_during_copy

pytestmark = [pytest.mark.postgis, pytest.mark.slow]


@pytest.fixture(scope="module")
def big_cube(cubes_dir) -> str:
    """300 x 300 cells x 24 days x 2 variables: 2.16M rows, a COPY long enough to be caught."""
    return make_cube(
        cubes_dir / "big.zarr",
        height=300,
        width=300,
        times=24,
        chunks=(4, 100, 300),
        nan_every=11,
    )


def test_sigkill_during_copy_leaves_database_unchanged(postgis, engine, small_cube, big_cube):
    api.load(small_cube, postgis.dsn, cube_id="killme")
    before = database_state(engine)

    kill_load_during_copy(engine, [big_cube, "--dsn", postgis.dsn, "--cube-id", "killme"], "obs_killme__new")

    assert database_state(engine) == before
    # the advisory lock died with the backend: the next load goes through
    assert api.load(small_cube, postgis.dsn, cube_id="killme").n_observations == 600
    drop_cube(engine, "killme")


def test_sigkill_during_an_append_leaves_database_unchanged(postgis, engine, big_cube):
    # a 200 x 200 window: 40k cells; the append overlaps what is loaded (Jan 9-16 are deleted, then
    # copied again) and adds Jan 17-24, so both its DELETE and its COPY must be undone
    window = ["--bbox", "10,48,12,50", "--cube-id", "killappend"]
    api.load(big_cube, postgis.dsn, cube_id="killappend", bbox="10,48,12,50", time="2020-01-01/2020-01-16")
    before = database_state(engine)
    append = "2020-01-09/2020-01-24"

    kill_load_during_copy(
        engine, [big_cube, "--dsn", postgis.dsn, *window, "--time", append], 'obs_killappend" ('
    )

    assert database_state(engine) == before  # every table, the registry (cube, cube_time) included
    # the lock died with the backend: the next append goes through; running it again changes nothing
    # but the registry's load time
    report = api.load(big_cube, postgis.dsn, cube_id="killappend", bbox="10,48,12,50", time=append)
    assert (report.mode, report.n_cells, report.n_observations) == ("append", 40_000, 16 * 40_000)
    tables = ("deepcube.obs_killappend", "deepcube.cells_killappend", "deepcube.cube_time")
    after = tables_state(engine, *tables)
    assert after["deepcube.obs_killappend"][1] == 24 * 40_000
    assert after["deepcube.cells_killappend"] == before["deepcube.cells_killappend"]
    api.load(big_cube, postgis.dsn, cube_id="killappend", bbox="10,48,12,50", time=append)
    assert tables_state(engine, *tables) == after
    assert fetch(
        engine, "SELECT time_start::text, time_end::text FROM deepcube.cube WHERE id = 'killappend'"
    ) == [("2020-01-01 00:00:00", "2020-01-24 00:00:00")]
    drop_cube(engine, "killappend")
