"""`semantic postgis start|stop`: the README's way to get a database, tried as a user would."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import psycopg
import pytest

from semantic.local_postgis import temporary_root


def semantic(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "semantic.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_start_exports_a_working_dsn_and_stop_leaves_nothing():
    parent = temporary_root()
    folder = parent / "pg"
    try:
        started = semantic("postgis", "start", "--dir", str(folder))
        assert started.returncode == 0, started.stderr
        (line,) = started.stdout.splitlines()
        name, _, value = line.removeprefix("export ").partition("=")
        assert name == "DEEPCUBE_DSN"
        dsn = shlex.split(value)[0]
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
        again = semantic("postgis", "start", "--dir", str(folder))
        assert again.returncode == 2 and len(again.stderr.splitlines()) == 1
        assert "already lives in" in again.stderr
        stopped = semantic("postgis", "stop", "--dir", str(folder))
        assert stopped.returncode == 0, stopped.stderr
        assert not folder.exists()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=3)
        missing = semantic("postgis", "stop", "--dir", str(folder))
        assert missing.returncode == 2
        assert missing.stderr.strip() == f"semantic: error: no cluster in {folder}"
    finally:
        semantic("postgis", "stop", "--dir", str(folder))
        shutil.rmtree(parent, ignore_errors=True)
