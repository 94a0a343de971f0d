"""Killing a `semantic load` subprocess with SIGKILL while its COPY runs, shared by the kill tests.

SIGKILL gives the client no chance to roll back: the guarantee under test is the server's (the
transaction dies with its backend), so the helpers watch the backend, not the client.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.semantic.conftest import fetch

ROOT = Path(__file__).resolve().parents[2]


def copy_backend(engine: sa.Engine, table_fragment: str) -> int | None:
    """pid of a backend currently running a COPY into the given table, if any."""
    rows = fetch(
        engine,
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY%' "
        "AND query LIKE :frag",
        frag=f"%{table_fragment}%",
    )
    return rows[0][0] if rows else None


def backend_alive(engine: sa.Engine, pid: int) -> bool:
    return bool(fetch(engine, "SELECT 1 FROM pg_stat_activity WHERE pid = :pid", pid=pid))


def kill_load_during_copy(engine: sa.Engine, load_args: list[str], table_fragment: str) -> None:
    """Run `semantic load *load_args` in a subprocess, SIGKILL it while pg_stat_activity shows its COPY
    into a table matching `table_fragment`, and return once its backend (and transaction) is gone."""
    command = [sys.executable, "-c", "from semantic.cli import app; app()", "load", *load_args, "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    pid = None
    deadline = time.monotonic() + 60
    try:
        while pid is None and time.monotonic() < deadline and process.poll() is None:
            pid = copy_backend(engine, table_fragment)
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
