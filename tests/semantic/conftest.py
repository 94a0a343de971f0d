"""Fixtures for the semantic layer: synthetic cubes and a SQLAlchemy engine on the session PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from semantic.database import create_engine
from tests.semantic.cubes import make_cube


@pytest.fixture(scope="session")
def cubes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cubes")


@pytest.fixture(scope="session")
def small_cube(cubes_dir: Path) -> str:
    """12 x 10 cells, 5 daily steps, t2m + precip with NaN every 7th value, a static elevation."""
    return make_cube(cubes_dir / "small.zarr")


@pytest.fixture(scope="session")
def engine(postgis) -> Iterator[sa.Engine]:
    eng = create_engine(postgis.dsn)
    yield eng
    eng.dispose()


def scalar(engine: sa.Engine, statement: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(statement), params).scalar()


def fetch(engine: sa.Engine, statement: str, **params) -> list:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(statement), params)]


def table_state(conn: sa.Connection, table: str) -> tuple:
    """(md5 of the rows in a fixed order, row count) of one `schema.table`: equal iff the contents are."""
    schema, name = table.split(".")
    return tuple(
        conn.execute(
            sa.text(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)), count(*) "
                f'FROM "{schema}"."{name}" AS t'
            )
        ).one()
    )


def tables_state(engine: sa.Engine, *tables: str) -> dict:
    """table_state of the given tables, for checks narrower (and cheaper) than `database_state`."""
    with engine.connect() as conn:
        return {table: table_state(conn, table) for table in tables}


def database_state(engine: sa.Engine) -> dict:
    """Everything a failed load could have touched: tables, registry rows, and per-table contents."""
    with engine.connect() as conn:
        tables = sorted(
            conn.execute(
                sa.text(
                    "SELECT schemaname || '.' || tablename FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalars()
        )
        state: dict = {"tables": tables}
        for table in tables:
            if table.split(".")[1] != "spatial_ref_sys":
                state[table] = table_state(conn, table)
        return state


def drop_cube(engine: sa.Engine, cube_id: str) -> None:
    """Remove a cube a test no longer needs, so big tables do not slow later `database_state` calls."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM deepcube.cube WHERE id = :id"), {"id": cube_id})
        for prefix in ("cells", "obs"):
            conn.execute(sa.text(f'DROP TABLE IF EXISTS deepcube."{prefix}_{cube_id}"'))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """rdflib 7.2's SPARQL parser uses pyparsing names that pyparsing 3.3 deprecates: not our noise."""
    for item in items:
        if "tests/semantic" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"))
