"""Session-wide real services: a throwaway PostGIS cluster and an S3 endpoint, both on loopback.

If a service cannot start, the tests that use it fail (not skip) with the reason.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator

import pytest

from semantic.local_postgis import LocalPostgis, temporary_root
from tests.services import MotoS3Server

# Offline plans that fail on purpose leave failed RPC futures behind; asyncio would echo each one
# as "exception was never retrieved" although the failure is already raised as a PlanError.
logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def postgis() -> Iterator[LocalPostgis]:
    """A running PostgreSQL 15 + PostGIS 3 cluster; `.dsn` connects over TCP with a password."""
    root = temporary_root()
    cluster = LocalPostgis(root=root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3Server]:
    """moto's S3 server on 127.0.0.1 in its own process."""
    server = MotoS3Server(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: MotoS3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """A fresh bucket per test, with the AWS_* variables pointing at the loopback endpoint."""
    import s3fs

    for key, value in s3_server.environment().items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(**s3_server.storage_options())
    name = "test-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40]
    name = name.strip("-")
    fs.mkdir(name)
    fs.invalidate_cache()
    yield name
    fs.rm(name, recursive=True)
