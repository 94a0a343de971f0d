"""UC3 where the platform runs it: the table computed on a Dask cluster named by
DASK_SCHEDULER_ADDRESS, and the notebook as `python -m` reading the cube from S3 with nothing but
the platform's credentials file and endpoint (the standard AWS chain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import s3fs
import xarray as xr

from components.data_access import shared_credentials_file
from cube_engine.demo_fields import DEMO
from cube_engine.demo_fire import fire_probability
from usecases.runtime import SCHEDULER_ENV, compute_on_platform, load_cube
from usecases.uc3_fire_danger import features

REPO = Path(__file__).resolve().parents[2]


def test_the_table_is_computed_on_the_cluster_named_by_the_environment(demo_cube, monkeypatch):
    from dask.distributed import LocalCluster

    table = features.build_table(load_cube(str(demo_cube)))
    local = features.to_frame(table)
    local_sample = features.to_sampled_frame(table, 0.25, seed=1)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
        with compute_on_platform() as where:
            assert where == f"dask cluster {cluster.scheduler_address} (1 workers)"
            remote = features.to_frame(table)
            remote_sample = features.to_sampled_frame(table, 0.25, seed=1)
            seen = set(cluster.scheduler.task_prefixes)  # every kind of task the scheduler ran
    assert {"open_dataset", "rechunk-merge"} & seen or len(seen) > 3, seen
    assert "getitem" in seen and "count_nonzero" in seen  # the sample was picked on the cluster
    pd.testing.assert_frame_equal(local, remote)
    pd.testing.assert_frame_equal(local_sample.frame, remote_sample.frame)
    assert 0 < len(remote_sample.frame) < len(local) / 2


def test_without_a_scheduler_address_work_stays_on_local_threads(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with compute_on_platform() as where:
        assert where == "local threads"


def test_demo_fire_follows_its_rule_and_is_reproducible(demo_cube, tmp_path):
    cube = load_cube(str(demo_cube))
    fire = cube["fire"].values
    assert set(np.unique(fire)) == {0.0, 1.0}
    expected = np.stack([fire_probability(t, DEMO) for t in cube["time"].values])
    spread = np.sqrt((expected * (1 - expected)).sum())  # binomial standard deviation of the count
    assert abs(fire.sum() - expected.sum()) < 4 * spread
    again = tmp_path / "again"
    done = subprocess.run(
        [sys.executable, "-m", "cube_engine.cli", "demo-data", str(again), "--days", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first = demo_cube.parent / "fire" / "fire_20240602.nc"
    with xr.open_dataset(first) as a, xr.open_dataset(again / "fire" / "fire_20240602.nc") as b:
        np.testing.assert_array_equal(a["fire"].values, b["fire"].values)


@pytest.mark.s3
@pytest.mark.slow
def test_the_notebook_runs_as_a_module_on_a_cube_in_s3_with_the_platform_credentials(
    demo_cube, s3_server, tmp_path
):
    bucket = "uc3-cubes"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", s3_server.region)
        admin = s3fs.S3FileSystem(**s3_server.storage_options())
        admin.mkdir(bucket)
        admin.put(str(demo_cube), f"{bucket}/demo.zarr", recursive=True)
    credentials = tmp_path / "s3_credentials"
    credentials.write_text(shared_credentials_file(s3_server.access_key, s3_server.secret_key))
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DASK_", "UC3_"))}
    env |= {
        "HOME": str(tmp_path / "home"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_DEFAULT_REGION": s3_server.region,
        "UC3_CUBE": f"s3://{bucket}/demo.zarr",
        "UC3_OUT": str(tmp_path / "out"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "usecases.uc3_fire_danger.uc3_fire_danger"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        admin.rm(bucket, recursive=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("UC3 fire danger: ROC AUC 0.9")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["cube"] == f"s3://{bucket}/demo.zarr"
    assert metrics["roc_auc_gain"] > 0.15
