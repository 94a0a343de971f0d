"""`gen` end to end on the small sample: conventions and values against independent references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from typer.testing import CliRunner

from cube_engine.cli import app
from cube_engine.inspection import validate_cube

runner = CliRunner()


@pytest.fixture
def cube(config_path: Path) -> xr.Dataset:
    result = runner.invoke(app, ["gen", str(config_path)])
    assert result.exit_code == 0, result.output
    return xr.open_zarr(config_path.parent / "cube.zarr", consolidated=True)


def _day(root: Path, product: str, i: int) -> xr.Dataset:
    return xr.open_dataset(sorted((root / product).glob("*.nc"))[i])


def test_cube_follows_the_conventions(cube: xr.Dataset, config_path: Path):
    assert validate_cube(cube) == []
    assert (config_path.parent / "cube.zarr" / ".zmetadata").exists()
    assert (config_path.parent / "cube.zarr" / ".zgroup").exists()  # zarr format 2
    assert cube.sizes == {"time": 6, "lat": 100, "lon": 100}
    assert cube.lat.values[0] > cube.lat.values[-1] and cube.lon.values[0] < cube.lon.values[-1]
    np.testing.assert_allclose(cube.lat.values[[0, -1]], [45.995, 45.005])
    assert cube.time.values[0] == np.datetime64("2024-06-01")
    assert cube.crs.dims == () and "crs_wkt" in cube.crs.attrs and cube.crs.attrs["spatial_ref"]
    for name, var in cube.data_vars.items():
        if name != "crs":
            assert var.dtype == np.float32 and var.attrs["grid_mapping"] == "crs"
            assert var.attrs["units"] and var.attrs["long_name"]
    assert cube.elevation.dims == ("lat", "lon")
    assert cube.air_temperature_2m.attrs["standard_name"] == "air_temperature"
    attrs = cube.attrs
    assert attrs["Conventions"] == "CF-1.10, ACDD-1.3"
    assert (attrs["geospatial_lon_min"], attrs["geospatial_lat_max"]) == (10.0, 46.0)
    assert attrs["time_coverage_start"] == "2024-06-01T00:00:00"
    assert attrs["time_coverage_end"] == "2024-06-06T00:00:00"
    assert len(attrs["deepcube_config_sha256"]) == 64 and len(attrs["deepcube_sources"]) == 5
    assert cube.air_temperature_2m.encoding["chunks"] == (4, 50, 50)


def test_equal_resolution_source_is_an_exact_cut(cube, sample_root):
    for day in (0, 5):
        raw = _day(sample_root, "meteo", day)
        # meteo is 0.1 degree (10 pixels) wider on each side
        np.testing.assert_array_equal(cube.air_temperature_2m[day].values, raw.t2m[0, 10:110, 10:110].values)
        np.testing.assert_array_equal(cube.precipitation[day].values, raw.tp[0, 10:110, 10:110].values)


def test_coarse_source_two_obs_a_day_is_aggregated_then_bilinear(cube, sample_root):
    raw = _day(sample_root, "lst", 2)  # int16 packed, latitude ascending, two observations
    assert raw.lat.values[0] < raw.lat.values[-1]
    for var, how, name in (
        ("lst", "mean", "land_surface_temperature"),
        ("aod", "max", "aerosol_optical_depth"),
    ):
        daily = getattr(raw[var], how)("time")
        expected = daily.interp(lat=cube.lat, lon=cube.lon, method="linear").values
        got = cube[name][2].values
        finite = np.isfinite(expected)
        assert finite.mean() > 0.8
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-5)
        assert np.isfinite(got).all()  # NaN-aware bilinear fills single missing pixels


def test_fine_partial_source_is_the_nan_aware_block_mean(cube, sample_root):
    raw = _day(sample_root, "s2", 1).ndvi[0].values  # 140x140 at 0.005, rows/cols 15..85 of the cube
    blocks = raw.reshape(70, 2, 70, 2)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmean(blocks, axis=(1, 3))
    got = cube.ndvi[1].values
    np.testing.assert_allclose(got[15:85, 15:85], expected, rtol=1e-6, atol=1e-7, equal_nan=True)
    assert np.isnan(got[:15]).all() and np.isnan(got[:, 85:]).all()
    assert 0.2 < np.isnan(got[15:85, 15:85]).mean() < 0.8


def test_static_layers_block_mean_and_mode(cube, sample_root):
    with rasterio.open(sample_root / "static" / "dem.tif") as src:
        dem = src.read(1)
    with rasterio.open(sample_root / "static" / "landcover.tif") as src:
        classes = src.read(1)
    np.testing.assert_allclose(
        cube.elevation.values, dem.reshape(100, 2, 100, 2).mean(axis=(1, 3)), rtol=1e-6
    )
    blocks = classes.reshape(100, 2, 100, 2).transpose(0, 2, 1, 3).reshape(100, 100, 4)
    expected = np.array([[np.bincount(b).argmax() for b in row] for row in blocks])
    np.testing.assert_array_equal(cube.land_cover.values, expected)


def test_cli_info_validate_preview(cube, config_path):
    path = str(config_path.parent / "cube.zarr")
    result = runner.invoke(app, ["info", path, "--json"])
    assert result.exit_code == 0
    assert '"time": 6' in result.output and '"zarr_format": 2' in result.output
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 0 and "valid" in result.output
    png = config_path.parent / "ndvi.png"
    result = runner.invoke(app, ["preview", path, "--var", "ndvi", "--time", "2024-06-02", "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_validate_reports_each_problem_on_its_own_line(cube, config_path):
    import zarr

    path = config_path.parent / "cube.zarr"
    group = zarr.open_group(str(path), mode="r+")
    attrs = dict(group.attrs)
    attrs.pop("title")
    group.attrs.put(attrs)
    group["ndvi"].attrs.put({k: v for k, v in group["ndvi"].attrs.asdict().items() if k != "units"})
    zarr.consolidate_metadata(str(path))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert any("missing global attribute 'title'" in line for line in lines)
    assert any(line.endswith("ndvi: missing attribute 'units'") for line in lines)
    assert len(lines) == 2
    [summary] = result.stderr.strip().splitlines()
    assert "is not valid: 2 problems" in summary


def test_zarr_format_3_output(workspace):
    from tests.cube_engine.conftest import write_config

    path = write_config(workspace, output={"path": "cube3.zarr", "zarr_format": 3, "compressor": "zstd"})
    result = runner.invoke(app, ["gen", str(path)])
    assert result.exit_code == 0, result.output
    assert (workspace / "cube3.zarr" / "zarr.json").exists()
    ds = xr.open_zarr(workspace / "cube3.zarr")
    assert validate_cube(ds) == []
