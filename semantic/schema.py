"""The database schema: a shared registry plus one cells table and one observations table per cube.

Why per-cube tables rather than one partitioned table: each cube has its own variables, and
"one column per variable" then means a different column set per cube, which a single parent table
cannot hold without a sparse union of every variable ever loaded. Per-cube tables also make the
whole-cube replace trivial and atomic (build `*_new` unindexed, index it, drop the old, rename, in one
transaction) and let Ontop see exact per-cube statistics. The registry (`cube`, `cube_variable`,
`cube_time`) ties them together and is what the mapping generator reads.

Creating and migrating is idempotent and automatic: `ensure_schema` runs at the start of every load
(inside the load's transaction, so a failed first load leaves no trace) and by `semantic init`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from semantic.errors import OutdatedSchemaError

if TYPE_CHECKING:
    from semantic.cube import Variable

SCHEMA = "deepcube"
SCHEMA_VERSION = 3
SCHEMA_LOCK_KEY = "deepcube.schema"

metadata = sa.MetaData(schema=SCHEMA)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
)

cube = sa.Table(
    "cube",
    metadata,
    sa.Column("id", sa.Text, primary_key=True, comment="cube id: names the per-cube tables and IRIs"),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("crs", sa.Text, nullable=False, comment="the cube's own CRS (cells are stored in EPSG:4326)"),
    sa.Column("grid", postgresql.JSONB, nullable=False, comment="semantic.grid.grid_record"),
    sa.Column("window", postgresql.JSONB, nullable=False, comment="[row0, row1, col0, col1] loaded"),
    sa.Column("time_start", sa.DateTime, nullable=True),
    sa.Column("time_end", sa.DateTime, nullable=True),
    sa.Column("source_uri", sa.Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column("cells_table", sa.Text, nullable=False),
    sa.Column("observations_table", sa.Text, nullable=False),
    sa.Column(
        "cells_digest",
        sa.Text,
        nullable=True,
        comment="semantic.cells_digest of the cells table: a replace with the same digest keeps it",
    ),
)

cube_variable = sa.Table(
    "cube_variable",
    metadata,
    sa.Column("cube_id", sa.Text, sa.ForeignKey(cube.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("column_name", sa.Text, nullable=False),
    sa.Column("units", sa.Text, nullable=False, server_default=""),
    sa.Column("long_name", sa.Text, nullable=False, server_default=""),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column(
        "static",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="true: a (y, x) layer stored as a column of the cells table, not of the observations",
    ),
    sa.Column("sql_type", sa.Text, nullable=False, server_default="real", comment="the column's SQL type"),
)

cube_time = sa.Table(
    "cube_time",
    metadata,
    sa.Column("cube_id", sa.Text, sa.ForeignKey(cube.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("time", sa.DateTime, primary_key=True),
)


def cells_table_name(cube_id: str) -> str:
    return f"cells_{cube_id}"


def observations_table_name(cube_id: str) -> str:
    return f"obs_{cube_id}"


SQL_TYPES: dict[str, sa.types.TypeEngine] = {
    "real": sa.REAL(),
    "double precision": postgresql.DOUBLE_PRECISION(),
    "smallint": sa.SmallInteger(),
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "boolean": sa.Boolean(),
}


def cells_table(name: str, static: Sequence[Variable] = ()) -> sa.Table:
    """Grid cells of one cube, one nullable column per static layer; the GiST index comes after the COPY."""
    return sa.Table(
        name,
        sa.MetaData(schema=SCHEMA),
        sa.Column("cell_id", sa.BigInteger, nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("col", sa.Integer, nullable=False),
        sa.Column("geom", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
        *(sa.Column(v.column, SQL_TYPES[v.sql_type], nullable=True) for v in static),
    )


def observations_table(name: str, columns: list[str]) -> sa.Table:
    """Observations of one cube: (cell_id, time) and one float4 column per variable (NULL = missing)."""
    return sa.Table(
        name,
        sa.MetaData(schema=SCHEMA),
        sa.Column("cell_id", sa.BigInteger, nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        *(sa.Column(c, sa.REAL, nullable=True) for c in columns),
    )


def create_table_ddl(table: sa.Table) -> str:
    """CREATE TABLE without indexes or constraints (they come after the bulk load)."""
    return str(CreateTable(table).compile(dialect=postgresql.dialect()))


def current_version(conn: Connection) -> int:
    exists = conn.execute(
        sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{SCHEMA}.schema_version"}
    ).scalar_one()
    if not exists:
        return 0
    return int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))).scalar_one()
    )


def ensure_schema(conn: Connection) -> bool:
    """Create or migrate the registry inside the caller's transaction; True if anything changed.

    Cheap when up to date (one catalogue lookup, no lock). Otherwise a transaction-level advisory lock
    serialises concurrent first loads, and the version is re-checked under it.
    """
    if current_version(conn) >= SCHEMA_VERSION:
        return False
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": SCHEMA_LOCK_KEY})
    version = current_version(conn)
    if version >= SCHEMA_VERSION:
        return False
    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    metadata.create_all(conn, checkfirst=True)
    for step in MIGRATIONS[version:SCHEMA_VERSION]:
        for statement in step:
            conn.execute(sa.text(statement))
    conn.execute(sa.insert(schema_version).values(version=SCHEMA_VERSION))
    return True


# MIGRATIONS[v] brings a database from version v to v+1 (version 0 -> 1 is `create_all` alone).
# Every statement must be idempotent: on a fresh database `create_all` has already built the latest
# tables before the steps run. Existing rows get the defaults: before version 2 every registered
# variable was a (time, y, x) float4 column of the observations table; before version 3 no cube has a
# cells digest, so its next replace rebuilds the cells once.
MIGRATIONS: list[list[str]] = [
    [],
    [
        f"ALTER TABLE {SCHEMA}.cube_variable ADD COLUMN IF NOT EXISTS static boolean NOT NULL DEFAULT false",
        f"ALTER TABLE {SCHEMA}.cube_variable ADD COLUMN IF NOT EXISTS sql_type text NOT NULL DEFAULT 'real'",
        f"COMMENT ON COLUMN {SCHEMA}.cube_variable.static IS "
        "'true: a (y, x) layer stored as a column of the cells table, not of the observations'",
        f"COMMENT ON COLUMN {SCHEMA}.cube_variable.sql_type IS 'the column''s SQL type'",
    ],
    [
        f"ALTER TABLE {SCHEMA}.cube ADD COLUMN IF NOT EXISTS cells_digest text",
        f"COMMENT ON COLUMN {SCHEMA}.cube.cells_digest IS "
        "'semantic.cells_digest of the cells table: a replace with the same digest keeps it'",
    ],
]


def require_current(conn: Connection) -> None:
    """Read paths do not migrate behind the user's back: they say how to, in one line."""
    version = current_version(conn)
    if 0 < version < SCHEMA_VERSION:
        raise OutdatedSchemaError(
            f"database schema {SCHEMA!r} is at version {version}, this semantic expects {SCHEMA_VERSION}: "
            "run `semantic init` (or any `semantic load`) to migrate it"
        )
