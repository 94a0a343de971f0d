"""Loading cubes: counts, values, NULLs, replace/append semantics, projected and S3 cubes, rollback."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
import xarray as xr

from semantic import api, blocks
from semantic.errors import IncompatibleLoadError
from tests.semantic import cubes
from tests.semantic.conftest import database_state, fetch, scalar, tables_state
from tests.semantic.cubes import make_cube

pytestmark = pytest.mark.postgis


def observations(engine, cube_id: str, columns: str) -> list:
    return fetch(
        engine, f'SELECT cell_id, time, {columns} FROM deepcube."obs_{cube_id}" ORDER BY cell_id, time'
    )


def expected_rows(path: str, variables: list[str]) -> list:
    ds = xr.open_zarr(path)
    height, width = ds.sizes["lat"], ds.sizes["lon"]
    arrays = {v: ds[v].values for v in variables}
    times = ds["time"].values
    rows = []
    for r in range(height):
        for c in range(width):
            for t, time in enumerate(times):
                vals = [arrays[v][t, r, c] for v in variables]
                rows.append(
                    (
                        r * width + c,
                        time.astype("datetime64[us]").item(),
                        *[None if np.isnan(v) else float(v) for v in vals],
                    )
                )
    return rows


def test_counts_values_and_nulls_equal_the_cube(postgis, engine, small_cube):
    report = api.load(small_cube, postgis.dsn, cube_id="values")
    assert (report.mode, report.n_cells, report.n_observations) == ("create", 120, 600)
    again = api.load(small_cube, postgis.dsn, cube_id="values")
    assert (again.mode, again.n_observations) == ("replace", 600)
    assert report.static == ["elevation", "land_cover"] and report.skipped_static == []
    assert observations(engine, "values", "t2m, precip") == expected_rows(small_cube, ["t2m", "precip"])
    nulls = scalar(engine, 'SELECT count(*) FROM deepcube."obs_values" WHERE t2m IS NULL')
    ds = xr.open_zarr(small_cube)
    assert nulls == int(np.isnan(ds["t2m"].values).sum()) > 0
    assert scalar(engine, "SELECT count(*) FROM deepcube.cells_values") == 120


def test_cell_polygons_have_no_float_noise(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="noise")
    wkt = scalar(engine, "SELECT ST_AsText(geom) FROM deepcube.cells_noise WHERE cell_id = 23")
    # row 2, col 3 of a 0.01 degree grid whose north-west corner is (10, 50)
    assert wkt == "POLYGON((10.03 49.97,10.04 49.97,10.04 49.98,10.03 49.98,10.03 49.97))"
    assert scalar(
        engine,
        "SELECT bool_and(ST_IsValid(geom)) AND bool_and(ST_SRID(geom) = 4326) FROM deepcube.cells_noise",
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'cells_noise' "
            "AND indexdef LIKE '%USING gist%'",
        )
        == 1
    )


def test_registry_describes_the_cube(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="registry")
    info = api.describe("registry", postgis.dsn)
    assert info.grid.crs == "EPSG:4326" and info.window == (0, 12, 0, 10)
    assert [(v.name, v.units) for v in info.variables] == [("precip", "mm"), ("t2m", "K")]
    assert [(v.name, v.units, v.sql_type, v.static) for v in info.static_variables] == [
        ("elevation", "m", "real", True),
        ("land_cover", "1", "smallint", True),
    ]
    assert str(info.time_start) == "2020-01-01 00:00:00" and str(info.time_end) == "2020-01-05 00:00:00"
    assert info.title == "test cube small.zarr"
    assert info.bbox() == (10.0, 49.88, 10.1, 50.0)


def test_loading_again_replaces_without_duplicates(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="again")
    first = observations(engine, "again", "t2m, precip")
    api.load(small_cube, postgis.dsn, cube_id="again")
    assert observations(engine, "again", "t2m, precip") == first
    assert scalar(engine, "SELECT count(*) FROM deepcube.cube WHERE id = 'again'") == 1
    assert scalar(engine, "SELECT count(*) FROM deepcube.cube_variable WHERE cube_id = 'again'") == 4
    assert scalar(engine, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%again%'") == 2


def test_time_steps_sent_as_column_defaults_load_the_same_rows(postgis, engine, small_cube, monkeypatch):
    # a step of the small cube is 120 cells: let every step go as its own COPY without the time field
    monkeypatch.setattr(blocks, "STEP_COPY_MIN_ROWS", 1)
    sent_times = []
    original = blocks.copy_buffers.observation_rows

    def spy(cell_ids, times, values, template=None):
        sent_times.append(times)
        return original(cell_ids, times, values, template)

    monkeypatch.setattr(blocks.copy_buffers, "observation_rows", spy)
    api.load(small_cube, postgis.dsn, cube_id="bystep")
    assert len(sent_times) == 5 and all(t is None for t in sent_times)
    assert observations(engine, "bystep", "t2m, precip") == expected_rows(small_cube, ["t2m", "precip"])
    # the last step's default does not outlive the load
    default = (
        "SELECT column_default FROM information_schema.columns WHERE table_name = :t AND column_name = 'time'"
    )
    assert fetch(engine, default, t="obs_bystep") == [(None,)]
    # appends write into the live table, so they carry the time in every row
    sent_times.clear()
    api.load(small_cube, postgis.dsn, cube_id="bystep", time="2020-01-04/2020-01-05")
    assert sent_times and all(t is not None for t in sent_times)
    assert observations(engine, "bystep", "t2m, precip") == expected_rows(small_cube, ["t2m", "precip"])


def rewritten_with(source: str, path, **changes) -> str:
    """A copy of a cube with some variables' values replaced (same grid, chunks and attributes)."""
    ds = xr.open_zarr(source).load()
    for name, values in changes.items():
        ds[name] = ds[name].copy(data=values)
    for variable in ds.variables.values():
        variable.encoding = {}
    ds.to_zarr(path, mode="w", consolidated=True, zarr_format=2)
    return str(path)


def test_a_reload_keeps_unchanged_cells_and_rebuilds_changed_ones(postgis, engine, small_cube, tmp_path):
    relation = "SELECT 'deepcube.cells_reuse'::regclass::oid"
    first = api.load(small_cube, postgis.dsn, cube_id="reuse")
    oid, cells = scalar(engine, relation), tables_state(engine, "deepcube.cells_reuse")
    again = api.load(small_cube, postgis.dsn, cube_id="reuse")
    assert (first.cells_kept, again.cells_kept) == (False, True)
    assert scalar(engine, relation) == oid and tables_state(engine, "deepcube.cells_reuse") == cells
    assert observations(engine, "reuse", "t2m, precip") == expected_rows(small_cube, ["t2m", "precip"])
    indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'cells_reuse' ORDER BY 1"
    assert fetch(engine, indexes) == [("cells_reuse_geom_idx",), ("cells_reuse_pkey",)]

    # new values of a static layer: the cells are rebuilt with them
    elevation = xr.open_zarr(small_cube)["elevation"].values + 1
    changed = rewritten_with(small_cube, tmp_path / "changed.zarr", elevation=elevation)
    report = api.load(changed, postgis.dsn, cube_id="reuse")
    assert report.cells_kept is False and scalar(engine, relation) != oid
    assert scalar(engine, "SELECT elevation FROM deepcube.cells_reuse WHERE cell_id = 0") == elevation[0, 0]
    assert fetch(engine, indexes) == [("cells_reuse_geom_idx",), ("cells_reuse_pkey",)]
    # another window of the same cube, or no static layers: other cells
    assert api.load(changed, postgis.dsn, cube_id="reuse", bbox="10.0,49.9,10.05,50.0").cells_kept is False
    assert api.load(changed, postgis.dsn, cube_id="reuse", variables=["t2m"]).cells_kept is False
    assert cell_columns(engine, "reuse") == ["cell_id", "row", "col", "geom"]


def test_a_whole_cube_load_writes_its_tables_without_the_wal(postgis, engine, tmp_path):
    # 300 x 300 cells x 6 steps: tables of ~40 MB, far above PostgreSQL's wal_skip_threshold (2 MB)
    path = make_cube(tmp_path / "walless.zarr", height=300, width=300, times=6, chunks=(6, 300, 300))
    lsn = "SELECT pg_current_wal_lsn()"
    before = scalar(engine, lsn)
    api.load(path, postgis.dsn, cube_id="walless")
    wal_bytes = scalar(engine, f"SELECT pg_wal_lsn_diff(({lsn}), '{before}')")
    table_bytes = scalar(
        engine,
        "SELECT pg_total_relation_size('deepcube.obs_walless') "
        "+ pg_total_relation_size('deepcube.cells_walless')",
    )
    assert table_bytes > 30e6 and wal_bytes < 0.05 * table_bytes


def test_time_ranges_add_up_idempotently(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="ranges", time="2020-01-01/2020-01-02")
    assert scalar(engine, 'SELECT count(DISTINCT time) FROM deepcube."obs_ranges"') == 2
    report = api.load(small_cube, postgis.dsn, cube_id="ranges", time="2020-01-03/2020-01-05")
    assert report.mode == "append" and report.n_observations == 360
    again = api.load(small_cube, postgis.dsn, cube_id="ranges", time="2020-01-03/2020-01-05")
    assert again.mode == "append"
    assert observations(engine, "ranges", "t2m, precip") == expected_rows(small_cube, ["t2m", "precip"])
    assert fetch(
        engine, "SELECT time_start::text, time_end::text FROM deepcube.cube WHERE id = 'ranges'"
    ) == [("2020-01-01 00:00:00", "2020-01-05 00:00:00")]
    assert scalar(engine, "SELECT count(*) FROM deepcube.cube_time WHERE cube_id = 'ranges'") == 5


def test_time_range_with_other_variables_is_refused(postgis, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="refuse", time="2020-01-01/2020-01-02")
    with pytest.raises(IncompatibleLoadError, match="holds variables"):
        api.load(small_cube, postgis.dsn, cube_id="refuse", time="2020-01-03/2020-01-03", variables=["t2m"])


def test_variables_and_bbox_subset(postgis, engine, small_cube):
    report = api.load(
        small_cube, postgis.dsn, cube_id="subset", variables=["t2m"], bbox="10.015,49.955,10.035,49.975"
    )
    assert report.n_cells == 9 and report.variables == ["t2m"]
    assert fetch(engine, "SELECT min(row), max(row), min(col), max(col) FROM deepcube.cells_subset") == [
        (2, 4, 1, 3)
    ]
    columns = fetch(
        engine,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'obs_subset' ORDER BY ordinal_position",
    )
    assert [c[0] for c in columns] == ["cell_id", "time", "t2m"]
    # cell ids stay those of the whole grid
    assert scalar(engine, "SELECT min(cell_id) FROM deepcube.cells_subset") == 2 * 10 + 1
    # --variables without a static layer loads none
    assert report.static == [] and cell_columns(engine, "subset") == ["cell_id", "row", "col", "geom"]


def cell_columns(engine, cube_id: str) -> list[str]:
    return [
        c[0]
        for c in fetch(
            engine,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = :t ORDER BY ordinal_position",
            t=f"cells_{cube_id}",
        )
    ]


def test_static_layers_become_typed_cell_columns_with_nulls(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="statics")
    types = fetch(
        engine,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'cells_statics' AND column_name IN ('elevation', 'land_cover') ORDER BY 1",
    )
    assert types == [("elevation", "real"), ("land_cover", "smallint")]
    got = fetch(engine, "SELECT row, col, elevation, land_cover FROM deepcube.cells_statics ORDER BY cell_id")
    rows, cols = np.divmod(np.arange(120), 10)
    want_elevation, want_class = cubes.elevation(rows, cols), cubes.land_cover(rows, cols)
    assert got == [
        (int(r), int(c), None if np.isnan(e) else float(e), int(k))
        for r, c, e, k in zip(rows, cols, want_elevation, want_class, strict=True)
    ]
    assert 0 < sum(e is None for _, _, e, _ in got) < 120
    assert fetch(
        engine,
        "SELECT name, column_name, units, long_name, position, static, sql_type FROM deepcube.cube_variable "
        "WHERE cube_id = 'statics' AND static ORDER BY position",
    ) == [
        ("elevation", "elevation", "m", "elevation", 2, True, "real"),
        ("land_cover", "land_cover", "1", "land cover class", 3, True, "smallint"),
    ]


def test_a_static_layer_named_in_variables_is_loaded_within_the_bbox(postgis, engine, small_cube):
    report = api.load(
        small_cube,
        postgis.dsn,
        cube_id="onestatic",
        variables=["t2m", "land_cover"],
        bbox="10.015,49.955,10.035,49.975",
    )
    assert report.variables == ["t2m"] and report.static == ["land_cover"]
    assert cell_columns(engine, "onestatic") == ["cell_id", "row", "col", "geom", "land_cover"]
    got = fetch(engine, "SELECT row, col, land_cover FROM deepcube.cells_onestatic ORDER BY cell_id")
    assert got == [(r, c, int(cubes.land_cover(r, c))) for r in range(2, 5) for c in range(1, 4)]


def test_an_append_keeps_the_static_columns(postgis, engine, small_cube):
    api.load(small_cube, postgis.dsn, cube_id="keepstatic", time="2020-01-01/2020-01-02")
    # a mark no load would write: an append must not rewrite the cells
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE deepcube.cells_keepstatic SET elevation = -1 WHERE cell_id = 0"))
    before = tables_state(engine, "deepcube.cells_keepstatic")
    registry = fetch(engine, "SELECT * FROM deepcube.cube_variable WHERE cube_id = 'keepstatic' ORDER BY 2")
    report = api.load(small_cube, postgis.dsn, cube_id="keepstatic", time="2020-01-03/2020-01-05")
    assert report.mode == "append" and report.static == ["elevation", "land_cover"]
    assert tables_state(engine, "deepcube.cells_keepstatic") == before
    assert scalar(engine, "SELECT elevation FROM deepcube.cells_keepstatic WHERE cell_id = 0") == -1
    assert (
        fetch(engine, "SELECT * FROM deepcube.cube_variable WHERE cube_id = 'keepstatic' ORDER BY 2")
        == registry
    )


def test_projected_cube_cells_are_in_wgs84(postgis, engine, cubes_dir):
    path = make_cube(
        cubes_dir / "laea.zarr",
        crs="EPSG:3035",
        origin=(4_321_000.0, 3_210_000.0),
        res=1000.0,
        height=4,
        width=3,
        times=2,
        zarr_format=3,
    )
    api.load(path, postgis.dsn, cube_id="laea")
    assert fetch(engine, "SELECT count(*), bool_and(ST_IsValid(geom)) FROM deepcube.cells_laea") == [
        (12, True)
    ]
    lon, lat = fetch(
        engine,
        "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM deepcube.cells_laea WHERE cell_id = 0",
    )[0]
    from pyproj import Transformer

    exp_lon, exp_lat = Transformer.from_crs(3035, 4326, always_xy=True).transform(4_321_500.0, 3_209_500.0)
    assert abs(lon - exp_lon) < 1e-4 and abs(lat - exp_lat) < 1e-4
    assert scalar(engine, "SELECT crs FROM deepcube.cube WHERE id = 'laea'") == "EPSG:3035"


def test_a_failed_load_leaves_the_database_unchanged(postgis, engine, small_cube, monkeypatch):
    api.load(small_cube, postgis.dsn, cube_id="failing")
    before = database_state(engine)
    calls = {"n": 0}
    original = blocks.copy_buffers.observation_rows

    def bad_value_after_first_block(*args):
        calls["n"] += 1
        if calls["n"] > 1:
            raise ValueError("bad value")
        return original(*args)

    monkeypatch.setattr(blocks.copy_buffers, "observation_rows", bad_value_after_first_block)
    with pytest.raises(ValueError, match="bad value"):
        api.load(small_cube, postgis.dsn, cube_id="failing")
    with pytest.raises(ValueError, match="bad value"):
        api.load(small_cube, postgis.dsn, cube_id="failing_new")
    assert calls["n"] > 2
    assert database_state(engine) == before


def test_init_is_idempotent(postgis):
    api.init(postgis.dsn)
    assert api.init(postgis.dsn) is False


@pytest.mark.s3
def test_loads_a_cube_from_s3(postgis, engine, s3_bucket, s3_server):
    uri = make_cube(
        f"s3://{s3_bucket}/remote.zarr",
        storage_options=s3_server.storage_options(),
        height=6,
        width=5,
        times=3,
    )
    report = api.load(uri, postgis.dsn, cube_id="remote")
    assert (report.n_cells, report.n_observations) == (30, 90)
    assert scalar(engine, "SELECT source_uri FROM deepcube.cube WHERE id = 'remote'") == uri
    assert scalar(engine, 'SELECT count(t2m) + count(precip) FROM deepcube."obs_remote"') == int(
        2 * 90
        - sum(
            np.isnan(xr.open_zarr(uri, storage_options=s3_server.storage_options())[v].values).sum()
            for v in ("t2m", "precip")
        )
    )
