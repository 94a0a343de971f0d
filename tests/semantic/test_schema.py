"""Schema migration: a version-1 database (no static layers, no cells digest) is upgraded in place.

The version-1 registry is built from its literal DDL, as that release created it, in a database of its
own, with one cube loaded the version-1 way; the upgrade must keep that cube readable and appendable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from semantic import api, schema
from semantic.cube import select
from semantic.database import create_engine
from semantic.errors import OutdatedSchemaError
from semantic.grid import grid_record

pytestmark = pytest.mark.postgis

DATABASE = "semantic_v1"

V1_DDL = """
CREATE SCHEMA deepcube;
CREATE TABLE deepcube.cube (
    id TEXT NOT NULL,
    title TEXT DEFAULT '' NOT NULL,
    crs TEXT NOT NULL,
    grid JSONB NOT NULL,
    "window" JSONB NOT NULL,
    time_start TIMESTAMP WITHOUT TIME ZONE,
    time_end TIMESTAMP WITHOUT TIME ZONE,
    source_uri TEXT NOT NULL,
    loaded_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    cells_table TEXT NOT NULL,
    observations_table TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE deepcube.schema_version (
    version SERIAL NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (version)
);
CREATE TABLE deepcube.cube_time (
    cube_id TEXT NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (cube_id, time),
    FOREIGN KEY(cube_id) REFERENCES deepcube.cube (id) ON DELETE CASCADE
);
CREATE TABLE deepcube.cube_variable (
    cube_id TEXT NOT NULL,
    name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    units TEXT DEFAULT '' NOT NULL,
    long_name TEXT DEFAULT '' NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (cube_id, name),
    FOREIGN KEY(cube_id) REFERENCES deepcube.cube (id) ON DELETE CASCADE
);
INSERT INTO deepcube.schema_version (version) VALUES (1);
CREATE TABLE deepcube.cells_old (
    cell_id BIGINT NOT NULL, "row" INTEGER NOT NULL, col INTEGER NOT NULL,
    geom geometry(POLYGON, 4326) NOT NULL, PRIMARY KEY (cell_id)
);
CREATE TABLE deepcube.obs_old (
    cell_id BIGINT NOT NULL, time TIMESTAMP WITHOUT TIME ZONE NOT NULL, t2m REAL,
    PRIMARY KEY (time, cell_id)
);
INSERT INTO deepcube.cells_old
SELECT r * 10 + c, r, c,
       ST_MakeEnvelope(10 + c * 0.01, 49.99 - r * 0.01, 10.01 + c * 0.01, 50 - r * 0.01, 4326)
FROM generate_series(0, 11) AS r, generate_series(0, 9) AS c;
INSERT INTO deepcube.obs_old SELECT cell_id, '2020-01-01', 1.5 FROM deepcube.cells_old;
"""


@pytest.fixture
def v1_dsn(postgis, engine, small_cube) -> Iterator[str]:
    """A database of its own holding a version-1 registry and one cube 'old' loaded by version 1."""
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    dsn = postgis.dsn_with(database=DATABASE)
    sel = select(small_cube)
    old = create_engine(dsn)
    try:
        with old.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION postgis"))
            conn.exec_driver_sql(V1_DDL)
            conn.execute(
                sa.text(
                    'INSERT INTO deepcube.cube (id, crs, grid, "window", time_start, time_end, source_uri, '
                    "cells_table, observations_table) VALUES ('old', 'EPSG:4326', CAST(:grid AS jsonb), "
                    "CAST(:window AS jsonb), '2020-01-01', '2020-01-01', :uri, 'cells_old', 'obs_old')"
                ),
                {
                    "grid": json.dumps(grid_record(sel.grid)),
                    "window": json.dumps(list(sel.window)),
                    "uri": small_cube,
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO deepcube.cube_variable VALUES ('old', 't2m', 't2m', 'K', 'temperature', 0)"
                )
            )
        yield dsn
    finally:
        old.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))


def test_a_version_1_database_is_upgraded_in_place(v1_dsn, small_cube, tmp_path):
    with pytest.raises(OutdatedSchemaError, match=r"version 1.*run `semantic init`"):
        api.describe("old", v1_dsn)

    assert api.init(v1_dsn) is True
    assert api.init(v1_dsn) is False
    engine = create_engine(v1_dsn)
    try:
        with engine.connect() as conn:
            assert schema.current_version(conn) == schema.SCHEMA_VERSION == 3
            assert conn.execute(
                sa.text("SELECT name, static, sql_type FROM deepcube.cube_variable WHERE cube_id = 'old'")
            ).all() == [("t2m", False, "real")]
            assert conn.execute(sa.text("SELECT cells_digest FROM deepcube.cube")).all() == [(None,)]
        info = api.describe("old", v1_dsn)
        assert [v.name for v in info.variables] == ["t2m"] and info.static_variables == ()
        assert any(p.name == "mapping.r2rml.ttl" for p in api.write_mapping("old", v1_dsn, tmp_path))

        # the old cube takes appends (its cells, without static columns, stay as they are) ...
        report = api.load(small_cube, v1_dsn, cube_id="old", variables=["t2m"], time="2020-01-02/2020-01-03")
        assert (report.mode, report.static) == ("append", [])
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM deepcube.obs_old")).scalar() == 360
        # ... and a whole-cube load brings the static layers (a cube without a digest rebuilds its cells)
        report = api.load(small_cube, v1_dsn, cube_id="old")
        assert (report.static, report.cells_kept) == (["elevation", "land_cover"], False)
        with engine.connect() as conn:
            assert len(conn.execute(sa.text("SELECT cells_digest FROM deepcube.cube")).scalar_one()) == 64
    finally:
        engine.dispose()
