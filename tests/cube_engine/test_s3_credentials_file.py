"""The platform's S3 contract, for real: a shared-credentials file and two variables are enough.

Jupyter, the Dask cluster and the semantic loader receive exactly this (see
`components.data_access`): the Docker secret `s3_credentials` holding an AWS shared-credentials
file, `AWS_SHARED_CREDENTIALS_FILE` pointing at it, `AWS_ENDPOINT_URL` and `AWS_DEFAULT_REGION`;
no key in the environment and nothing in the cube configs. Here the same file, rendered by the same
function, drives the real command lines in subprocesses whose environment holds no other `AWS_*`
variable and an empty home (no ~/.aws), against the loopback S3 server: `cube-engine gen` writes
the demo cube to s3://, `cube-engine info` reads it back, and the loader image's own entrypoint
(`docker/semantic/load-cubes`) puts it into PostGIS. Without the file, reading fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import s3fs
import sqlalchemy as sa
import xarray as xr

from components.data_access import S3_CREDENTIALS_KEY, shared_credentials_file
from semantic.database import create_engine
from semantic.local_postgis import LocalPostgis
from tests.services import MotoS3Server

pytestmark = [pytest.mark.s3, pytest.mark.postgis]

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
LOAD_CUBES = REPO / "docker" / "semantic" / "load-cubes"
BUCKET = "deepcube-test-store-cubes-work"


def contract_env(root: Path, server: MotoS3Server, credentials: Path | None) -> dict[str, str]:
    """The process environment of a data service: no AWS_* variable but the contract's, no ~/.aws."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {
        "HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_DEFAULT_REGION": server.region,
    }
    if credentials is not None:
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory, s3_server: MotoS3Server) -> Path:
    """Stands in for /run/secrets: the credentials file as the platform renders it."""
    folder = tmp_path_factory.mktemp("run-secrets")
    text = shared_credentials_file(s3_server.access_key, s3_server.secret_key)
    (folder / S3_CREDENTIALS_KEY).write_text(text)
    return folder


@pytest.fixture(scope="module")
def s3_cube(
    tmp_path_factory: pytest.TempPathFactory, s3_server: MotoS3Server, secrets_dir: Path
) -> Iterator[str]:
    """The demo cube, built by `cube-engine gen` in a contract-only environment into a fresh bucket."""
    admin = s3fs.S3FileSystem(**s3_server.storage_options())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", s3_server.region)
        admin.mkdir(BUCKET)
    root = tmp_path_factory.mktemp("contract")
    env = contract_env(root, s3_server, secrets_dir / S3_CREDENTIALS_KEY)
    demo = run([str(BIN / "cube-engine"), "demo-data", str(root / "demo")], env)
    assert demo.returncode == 0, demo.stderr
    uri = f"s3://{BUCKET}/fire_risk.zarr"
    gen = run([str(BIN / "cube-engine"), "gen", str(root / "demo" / "cube.yaml"), "-o", uri], env)
    assert gen.returncode == 0, gen.stderr
    yield uri
    admin.rm(BUCKET, recursive=True)


def read_with_explicit_keys(uri: str, server: MotoS3Server) -> xr.Dataset:
    return xr.open_zarr(uri, storage_options=server.storage_options(), consolidated=True)


def test_gen_writes_and_info_reads_the_cube_with_only_the_credentials_file(
    s3_cube, s3_server, secrets_dir, tmp_path
):
    env = contract_env(tmp_path, s3_server, secrets_dir / S3_CREDENTIALS_KEY)
    info = run([str(BIN / "cube-engine"), "info", "--json", s3_cube], env)
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    cube = read_with_explicit_keys(s3_cube, s3_server)
    assert data["dims"] == {"time": cube.sizes["time"], "lat": cube.sizes["lat"], "lon": cube.sizes["lon"]}
    assert data["dims"]["time"] > 0 and data["dims"]["lat"] > 0
    assert {v["name"] for v in data["variables"]} == set(cube.data_vars) - {"crs"}
    temperature = cube["air_temperature_2m"].values
    assert np.isfinite(temperature).any() and 200 < np.nanmean(temperature) < 330  # kelvin, written


def test_the_loader_entrypoint_loads_the_s3_cube_into_postgis(
    s3_cube, s3_server, secrets_dir, postgis: LocalPostgis, tmp_path
):
    (secrets_dir / "postgis_password").write_text(postgis.password)
    env = contract_env(tmp_path, s3_server, secrets_dir / S3_CREDENTIALS_KEY) | {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgis.port),
        "PGUSER": postgis.user,
        "PGDATABASE": postgis.database,
        "PGPASSWORD_FILE": str(secrets_dir / "postgis_password"),
        "MAPPING_DIR": str(tmp_path / "mapping"),
        "CUBES": f"contract_fire={s3_cube}",
    }
    (tmp_path / "mapping").mkdir()
    loaded = run(["sh", str(LOAD_CUBES)], env)
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    assert "load-cubes: done" in loaded.stdout

    cube = read_with_explicit_keys(s3_cube, s3_server)
    temperature = cube["air_temperature_2m"].values.astype("float64")
    engine = create_engine(postgis.dsn)
    try:
        with engine.connect() as conn:
            count, total = conn.execute(
                sa.text('SELECT count(*), sum(air_temperature_2m::float8) FROM deepcube."obs_contract_fire"')
            ).one()
    finally:
        engine.dispose()
    assert count == temperature.size
    assert total == pytest.approx(np.nansum(temperature), rel=1e-6)
    assert (tmp_path / "mapping" / "contract_fire" / "mapping.r2rml.ttl").stat().st_size > 0


def test_without_the_credentials_file_the_cube_cannot_be_read(s3_cube, s3_server, tmp_path):
    env = contract_env(tmp_path, s3_server, tmp_path / "absent")
    info = run([str(BIN / "cube-engine"), "info", s3_cube], env)
    assert info.returncode != 0
    assert "Unable to locate credentials" in info.stderr


def test_the_loader_refuses_an_s3_cube_without_the_credentials_file(s3_server, tmp_path):
    (tmp_path / "pw").write_text("unused")
    env = contract_env(tmp_path, s3_server, None) | {
        "PGHOST": "127.0.0.1",
        "PGPORT": "1",
        "PGUSER": "deepcube",
        "PGDATABASE": "cubes",
        "PGPASSWORD_FILE": str(tmp_path / "pw"),
        "MAPPING_DIR": str(tmp_path),
        "CUBES": f"x=s3://{BUCKET}/x.zarr",
    }
    refused = run(["sh", str(LOAD_CUBES)], env)
    assert refused.returncode == 1
    assert f"s3://{BUCKET}/x.zarr needs a readable AWS_SHARED_CREDENTIALS_FILE" in refused.stderr
    assert "waiting for PostGIS" not in refused.stdout
