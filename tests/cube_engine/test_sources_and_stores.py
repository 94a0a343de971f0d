"""GeoTIFF (time from file name), Zarr and HTTP sources; s3 output (write, append, read back);
`--scheduler` on a distributed LocalCluster giving the same values as threads."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from rasterio.transform import from_origin
from typer.testing import CliRunner

from cube_engine import api
from cube_engine.cli import app
from cube_engine.config import load_config
from cube_engine.readers.geotiff import time_from_name
from tests.cube_engine.conftest import write_config

runner = CliRunner()
GRID = {"crs": "EPSG:4326", "bbox": [10.0, 45.0, 10.4, 45.4], "resolution": 0.1}


def test_time_from_file_name():
    assert time_from_name("S2_NDVI_20240603_T32.tif", "NDVI_%Y%m%d") == np.datetime64("2024-06-03")
    assert time_from_name("x_2024155.tif", "%Y%j") == np.datetime64("2024-06-03")
    assert time_from_name("nodate.tif", "%Y%m%d") is None


def _geotiffs(folder: Path) -> dict[str, np.ndarray]:
    """Three UTM-free daily GeoTIFFs at 0.05 deg (2x finer), one day with two files."""
    folder.mkdir()
    values = {}
    rng = np.random.default_rng(1)
    for name in ("NDVI_20240601", "NDVI_20240602", "NDVI_20240602T12", "NDVI_20240604"):
        data = rng.normal(0.5, 0.1, (8, 8)).astype("float32")
        data[0, 0] = -9999
        with rasterio.open(
            folder / f"{name}.tif",
            "w",
            driver="GTiff",
            width=8,
            height=8,
            count=1,
            dtype="float32",
            crs="EPSG:4326",
            transform=from_origin(10.0, 45.4, 0.05, 0.05),
            nodata=-9999,
        ) as dst:
            dst.write(data, 1)
        values[name] = np.where(data == -9999, np.nan, data)
    return values


def test_geotiff_time_series_by_file_name(tmp_path):
    values = _geotiffs(tmp_path / "tif")
    config = {
        "sources": [
            {
                "name": "ndvi",
                "paths": ["tif/NDVI_*.tif"],
                "time_pattern": "NDVI_%Y%m%d",
                "resampling": "block_mean",
                "variables": [{"name": "ndvi", "units": "1", "aggregation": "max"}],
            }
        ],
        "grid": GRID,
        "time": {"start": "2024-06-01", "end": "2024-06-04"},
        "output": {"path": "c.zarr"},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["gen", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    cube = xr.open_zarr(tmp_path / "c.zarr")

    def block(a):
        with np.errstate(invalid="ignore"):
            return np.nanmean(a.reshape(4, 2, 4, 2), axis=(1, 3))

    np.testing.assert_allclose(cube.ndvi[0].values, block(values["NDVI_20240601"]), rtol=1e-6)
    day2 = np.fmax(values["NDVI_20240602"], values["NDVI_20240602T12"])  # time_pattern matches both
    np.testing.assert_allclose(cube.ndvi[1].values, block(day2), rtol=1e-6)
    assert np.isnan(cube.ndvi[2].values).all()  # no file for 2024-06-03
    np.testing.assert_allclose(cube.ndvi[3].values, block(values["NDVI_20240604"]), rtol=1e-6)


def test_zarr_source_with_flipped_latitude(tmp_path):
    lat = np.arange(44.95, 45.6, 0.1)  # ascending, wider than the region
    lon = np.arange(9.95, 10.6, 0.1)
    times = np.array(["2024-06-01T06", "2024-06-01T18", "2024-06-02T06"], dtype="datetime64[ns]")
    data = np.random.default_rng(2).normal(280, 5, (3, lat.size, lon.size)).astype("float32")
    xr.Dataset(
        {"t": (("time", "lat", "lon"), data, {"units": "K"})}, coords={"time": times, "lat": lat, "lon": lon}
    ).to_zarr(tmp_path / "src.zarr", zarr_format=2)
    config = {
        "sources": [
            {
                "name": "z",
                "paths": ["src.zarr"],
                "resampling": "bilinear",
                "variables": [{"name": "t", "rename": "temperature", "aggregation": "min"}],
            }
        ],
        "grid": GRID,
        "time": {"start": "2024-06-01", "end": "2024-06-02"},
        "output": {"path": "c.zarr"},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    api.gen(load_config(tmp_path / "c.yaml"))
    cube = xr.open_zarr(tmp_path / "c.zarr")
    src = xr.open_zarr(tmp_path / "src.zarr").t
    expected = src.isel(time=[0, 1]).min("time").interp(lat=cube.lat, lon=cube.lon).values
    np.testing.assert_allclose(cube.temperature[0].values, expected, rtol=1e-6)


@pytest.fixture
def http_root(sample_root):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(sample_root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_source_equals_local(workspace, http_root, tmp_path, monkeypatch):
    monkeypatch.setenv("CUBE_ENGINE_CACHE", str(tmp_path / "cache"))
    base = yaml.safe_load(write_config(workspace).read_text())
    base["sources"] = [base["sources"][1]]
    base["sources"][0]["paths"] = [f"{http_root}/lst/lst_2024060{d}.nc" for d in range(1, 7)]
    base["output"]["path"] = "http.zarr"
    (workspace / "http.yaml").write_text(yaml.safe_dump(base))
    local = yaml.safe_load(write_config(workspace).read_text())
    local["sources"] = [local["sources"][1]]
    (workspace / "local.yaml").write_text(yaml.safe_dump(local))
    api.gen(load_config(workspace / "http.yaml"))
    api.gen(load_config(workspace / "local.yaml"))
    a, b = xr.open_zarr(workspace / "http.zarr"), xr.open_zarr(workspace / "cube.zarr")
    np.testing.assert_array_equal(a.land_surface_temperature.values, b.land_surface_temperature.values)


@pytest.mark.s3
def test_s3_output_write_append_read_back(workspace, s3_bucket, s3_server):
    import s3fs

    url = f"s3://{s3_bucket}/cubes/demo.zarr"
    base = yaml.safe_load(write_config(workspace).read_text())
    base["sources"] = base["sources"][:1] + base["sources"][3:]  # meteo + statics keep it quick
    base["output"] = {"path": url, "storage_options": {"endpoint_url": s3_server.endpoint_url}}
    first = {**base, "time": {**base["time"], "end": "2024-06-03"}}
    later = {**base, "time": {**base["time"], "start": "2024-06-04"}}
    (workspace / "first.yaml").write_text(yaml.safe_dump(first))
    (workspace / "later.yaml").write_text(yaml.safe_dump(later))
    assert runner.invoke(app, ["gen", str(workspace / "first.yaml")]).exit_code == 0
    result = runner.invoke(app, ["append", str(workspace / "later.yaml")])
    assert result.exit_code == 0, result.output
    fs = s3fs.S3FileSystem(**s3_server.storage_options())
    assert fs.exists(f"{s3_bucket}/cubes/demo.zarr/.zmetadata")
    cube = xr.open_zarr(url, storage_options=s3_server.storage_options(), consolidated=True)
    assert cube.sizes["time"] == 6
    raw = xr.open_dataset(sorted((workspace / "meteo").glob("*.nc"))[4])
    np.testing.assert_array_equal(cube.air_temperature_2m[4].values, raw.t2m[0, 10:110, 10:110].values)
    assert runner.invoke(app, ["validate", url]).exit_code == 0
    result = runner.invoke(app, ["info", url])
    assert result.exit_code == 0 and "time=6" in result.output
    # s3 as a source: the s3 cube read back as a Zarr source, window cut at equal resolution.
    again = {
        "sources": [
            {
                "name": "s3cube",
                "paths": [url],
                "format": "zarr",
                "resampling": "nearest",
                "storage_options": {"endpoint_url": s3_server.endpoint_url},
                "variables": [{"name": "air_temperature_2m"}],
            }
        ],
        "grid": {**base["grid"], "bbox": [10.2, 45.2, 10.6, 45.6]},
        "time": {**base["time"]},
        "output": {"path": "from_s3.zarr"},
    }
    (workspace / "again.yaml").write_text(yaml.safe_dump(again))
    result = runner.invoke(app, ["gen", str(workspace / "again.yaml")])
    assert result.exit_code == 0, result.output
    copy = xr.open_zarr(workspace / "from_s3.zarr")
    np.testing.assert_array_equal(
        copy.air_temperature_2m.values, cube.air_temperature_2m[:, 40:80, 20:60].values
    )


@pytest.mark.slow
def test_scheduler_local_cluster_equals_threads(workspace):
    from distributed import LocalCluster

    config = write_config(workspace)
    assert runner.invoke(app, ["gen", str(config), "-o", str(workspace / "threads.zarr")]).exit_code == 0
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        result = runner.invoke(
            app,
            [
                "gen",
                str(config),
                "-o",
                str(workspace / "dask.zarr"),
                "--scheduler",
                cluster.scheduler_address,
            ],
        )
        assert result.exit_code == 0, result.output
    a, b = xr.open_zarr(workspace / "threads.zarr"), xr.open_zarr(workspace / "dask.zarr")
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_dask_workers_fetch_remote_sources_themselves(workspace, http_root, tmp_path, monkeypatch):
    """The plan carries the sources' own URIs: a worker on another machine has no access to the
    client's download cache, so each worker fetches into its own (here: a cache only it uses)."""
    from distributed import LocalCluster

    client_cache, worker_cache = tmp_path / "client-cache", tmp_path / "worker-cache"
    monkeypatch.setenv("CUBE_ENGINE_CACHE", str(client_cache))
    config = yaml.safe_load(write_config(workspace).read_text())
    config["sources"] = [config["sources"][1]]
    config["sources"][0]["paths"] = [f"{http_root}/lst/lst_2024060{d}.nc" for d in range(1, 7)]
    config["output"]["path"] = "remote.zarr"
    (workspace / "remote.yaml").write_text(yaml.safe_dump(config))
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"CUBE_ENGINE_CACHE": str(worker_cache)},
    ) as cluster:
        remote = str(workspace / "remote.yaml")
        result = runner.invoke(app, ["gen", remote, "--scheduler", cluster.scheduler_address])
        assert result.exit_code == 0, result.output
    fetched = sorted(p.name.split("-", 1)[1] for p in worker_cache.iterdir())
    assert fetched == [f"lst_2024060{d}.nc" for d in range(1, 7)]
    local = yaml.safe_load(write_config(workspace).read_text())
    local["sources"] = [local["sources"][1]]
    (workspace / "local.yaml").write_text(yaml.safe_dump(local))
    api.gen(load_config(workspace / "local.yaml"))
    a, b = xr.open_zarr(workspace / "remote.zarr"), xr.open_zarr(workspace / "cube.zarr")
    np.testing.assert_array_equal(a.land_surface_temperature.values, b.land_surface_temperature.values)
