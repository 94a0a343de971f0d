"""A throwaway PostgreSQL 15 + PostGIS 3 cluster on loopback, for the demo and the tests.

Why a module and not a shell script: the README's demo and the pytest fixtures both need the same
cluster, started the same way (private socket folder, free port, password auth on TCP), and both
need to stop it reliably. `pg_ctl` refuses to run as root, so when we are root the server binaries
run as the unprivileged `postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from semantic.server_settings import BULK_LOAD_SETTINGS, server_flags

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin",)
# A throwaway cluster trades durability for speed: nothing in it outlives the demo or the test run.
THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "2GB",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
}
SERVICE_USER = "postgres"


class PostgisUnavailable(RuntimeError):
    """The cluster could not be created or started; the message says why."""


def find_pg_bin() -> Path:
    """Locate the PostgreSQL 15 server binaries (Debian's layout first, then PATH)."""
    for candidate in PG_BIN_CANDIDATES:
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgisUnavailable(
        "PostgreSQL server binaries not found: install the Debian package postgresql-15-postgis-3"
    )


def free_port() -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPostgis:
    """One private cluster: a data folder, a socket folder and a port, all owned by this object."""

    root: Path
    port: int = field(default_factory=free_port)
    user: str = "deepcube"
    password: str = "deepcube-local"
    database: str = "deepcube"
    _bin: Path = field(default_factory=find_pg_bin)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def dsn(self) -> str:
        """libpq URI over TCP on loopback with password authentication."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def dsn_with(self, **parts: str | int) -> str:
        """The DSN with some parts replaced (e.g. a wrong password or port, for error tests)."""
        user = parts.get("user", self.user)
        password = parts.get("password", self.password)
        port = parts.get("port", self.port)
        database = parts.get("database", self.database)
        return f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"

    def _run_as_service_user(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", SERVICE_USER, "--", *args]
        return subprocess.run(args, capture_output=True, text=True, **kwargs)

    def _prepare_folders(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(SERVICE_USER)
            except KeyError as exc:
                raise PostgisUnavailable(
                    f"system user {SERVICE_USER!r} is missing: install postgresql-15-postgis-3"
                ) from exc
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.root.chmod(0o700)

    def start(self) -> LocalPostgis:
        """initdb (password auth on TCP), start on loopback, create the database and PostGIS."""
        self._prepare_folders()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        init = self._run_as_service_user(
            [
                str(self._bin / "initdb"),
                "-D", str(self.data_dir),
                "-U", self.user,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E", "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        pwfile.unlink()
        if init.returncode != 0:
            raise PostgisUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        options = " ".join(
            server_flags(
                {
                    "listen_addresses": "127.0.0.1",
                    "port": str(self.port),
                    "unix_socket_directories": str(self.socket_dir),
                    **THROWAWAY_SETTINGS,
                    **BULK_LOAD_SETTINGS,
                }
            )
        )
        started = self._run_as_service_user(
            [
                str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", options, "-w", "-t", "60", "start",
            ]
        )
        if started.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise PostgisUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log[-500:]}")
        self._psql("postgres", f'CREATE DATABASE "{self.database}"')
        self._psql(self.database, "CREATE EXTENSION IF NOT EXISTS postgis")
        return self

    def _psql(self, database: str, sql: str) -> str:
        result = self._run_as_service_user(
            [
                str(self._bin / "psql"), "-h", str(self.socket_dir), "-p", str(self.port),
                "-U", self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql,
            ]
        )
        if result.returncode != 0:
            raise PostgisUnavailable(f"psql {sql!r} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        """Stop the server fast; the folder is left for the caller to remove."""
        if self.data_dir.exists():
            self._run_as_service_user(
                [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]
            )

    def __enter__(self) -> LocalPostgis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def temporary_root(prefix: str = "deepcube-pg-") -> Path:
    """A fresh folder outside the work tree (the postgres user must be able to enter it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
