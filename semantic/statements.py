"""Statements a load runs on its transaction's own psycopg connection.

COPY, DDL with identifiers and SET LOCAL are composed with psycopg's `sql` module (which quotes
identifiers and literals itself) and run on the driver connection under SQLAlchemy's transaction,
so they commit or roll back with everything else the load does.
"""

from __future__ import annotations

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import schema


def qualified(name: str) -> sql.Composable:
    """`deepcube."name"`: a table or index of the registry's schema."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema.SCHEMA), sql.Identifier(name))


def execute(conn: Connection, statement: sql.Composable) -> None:
    """Run a composed statement in the load's transaction."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(statement)


def table_exists(conn: Connection, name: str) -> bool:
    return conn.execute(
        sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": f'{schema.SCHEMA}."{name}"'}
    ).scalar_one()
