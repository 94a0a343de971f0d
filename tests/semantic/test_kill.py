"""A load killed with SIGKILL in the middle of its COPY leaves the database exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from semantic import api
from tests.semantic.conftest import database_state, fetch
from tests.semantic.cubes import make_cube

pytestmark = [pytest.mark.postgis, pytest.mark.slow]


def copy_backend(engine, table_fragment: str) -> int | None:
    """pid of a backend currently running a COPY into the given table, if any."""
    rows = fetch(
        engine,
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY%' "
        "AND query LIKE :frag",
        frag=f"%{table_fragment}%",
    )
    return rows[0][0] if rows else None


def backend_alive(engine, pid: int) -> bool:
    return bool(fetch(engine, "SELECT 1 FROM pg_stat_activity WHERE pid = :pid", pid=pid))


def test_sigkill_during_copy_leaves_database_unchanged(postgis, engine, small_cube, cubes_dir):
    big = make_cube(
        cubes_dir / "big.zarr",
        height=300,
        width=300,
        times=24,
        chunks=(4, 100, 300),
        nan_every=11,
        static=False,
    )
    api.load(small_cube, postgis.dsn, cube_id="killme")
    before = database_state(engine)

    command = [
        sys.executable,
        "-c",
        "from semantic.cli import app; app()",
        "load",
        big,
        "--dsn",
        postgis.dsn,
        "--cube-id",
        "killme",
        "--quiet",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    pid = None
    deadline = time.monotonic() + 60
    try:
        while pid is None and time.monotonic() < deadline and process.poll() is None:
            pid = copy_backend(engine, "obs_killme__new")
            if pid is None:
                time.sleep(0.01)
        assert pid is not None, f"never saw the COPY (exit {process.poll()}): {process.stderr.read()!r}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # the server notices the dead client and rolls back; wait until its backend is gone
    deadline = time.monotonic() + 30
    while backend_alive(engine, pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend_alive(engine, pid)
    assert database_state(engine) == before
    # the advisory lock died with the backend: the next load goes through
    assert api.load(small_cube, postgis.dsn, cube_id="killme").n_observations == 600
