"""The real services the suite depends on answer as expected."""

import psycopg
import s3fs

from semantic.server_settings import BULK_LOAD_SETTINGS
from tests.services import MotoS3Server


def test_postgis_answers_full_version(postgis):
    with psycopg.connect(postgis.dsn) as conn:
        version = conn.execute("SELECT postgis_full_version()").fetchone()[0]
        server = conn.execute("SHOW server_version_num").fetchone()[0]
    assert version.startswith('POSTGIS="3.')
    assert int(server) // 10000 == 15


def test_postgis_rejects_wrong_password(postgis):
    try:
        psycopg.connect(postgis.dsn_with(password="wrong"), connect_timeout=5)
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc)
    else:
        raise AssertionError("a wrong password was accepted")


def test_postgis_listens_only_on_loopback(postgis):
    with psycopg.connect(postgis.dsn) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


def test_postgis_runs_with_the_bulk_load_settings(postgis):
    with psycopg.connect(postgis.dsn) as conn:
        for name, value in BULK_LOAD_SETTINGS.items():
            assert conn.execute(f"SHOW {name}").fetchone()[0] == value, name


def test_s3_round_trip(s3_server: MotoS3Server, s3_bucket: str):
    fs = s3fs.S3FileSystem(**s3_server.storage_options())
    payload = bytes(range(256)) * 1000
    fs.pipe(f"{s3_bucket}/folder/blob.bin", payload)
    fs.invalidate_cache()
    assert fs.cat(f"{s3_bucket}/folder/blob.bin") == payload
    assert fs.ls(f"{s3_bucket}/folder") == [f"{s3_bucket}/folder/blob.bin"]
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
