"""Keys and indexes of a whole-cube load's fresh tables, and swapping those tables in.

A whole-cube load COPYs into unindexed `<table>__new` tables and only then adds their keys and
indexes (one build from presorted input beats maintaining them row by row), with index-build
settings for this transaction only; the fresh tables then take the live tables' names.
"""

from __future__ import annotations

from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import schema
from semantic.statements import execute, qualified

INDEX_PARALLEL_WORKERS = 2  # parallel B-tree build workers asked for (SET LOCAL)
INDEX_MAINTENANCE_WORK_MEM = "64MB"  # 32 MB per participant: the leader and one worker


def tune_index_builds(conn: Connection) -> None:
    """Parallel key/index builds for this transaction only (SET LOCAL: nothing outlives it).

    PostgreSQL 15 builds B-trees in parallel: the workers split the heap scan, the costliest part of
    the observations key. A parallel build always sorts externally (each participant writes runs, the
    leader merges them), PostgreSQL gives each participant at least 32 MB, and the leader allocates
    its whole share as merge buffers: more memory page-faults for longer than it saves. Measured here
    (7.5M presorted rows, 2 cores, CREATE UNIQUE INDEX, 3 runs each): serial 16 MB-1 GB 1.6-2.0 s;
    1 worker + leader with 64 MB 1.29-1.36 s, 96 MB 1.34-1.37 s, 192 MB 1.49-1.54 s, 512 MB 1.53 s.
    Our input is presorted, so small runs merge cheaply.
    """
    execute(
        conn,
        sql.SQL("SET LOCAL max_parallel_maintenance_workers = {}").format(
            sql.Literal(INDEX_PARALLEL_WORKERS)
        ),
    )
    execute(
        conn, sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(INDEX_MAINTENANCE_WORK_MEM))
    )


def index_statements(cube_id: str, *, cells: bool) -> list[tuple[str, sql.Composable]]:
    """(phase label, statement) for the keys and indexes of the fresh `*__new` tables."""
    cells_name, obs = schema.cells_table_name(cube_id), schema.observations_table_name(cube_id)
    statements = []
    if cells:
        statements += [
            (
                "cells primary key",
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (cell_id)").format(
                    qualified(f"{cells_name}__new"), sql.Identifier(f"{cells_name}__new_pkey")
                ),
            ),
            (
                "cells GiST index",
                sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
                    sql.Identifier(f"{cells_name}__new_geom_idx"), qualified(f"{cells_name}__new")
                ),
            ),
        ]
    statements.append(
        (
            "observations primary key",
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (time, cell_id)").format(
                qualified(f"{obs}__new"), sql.Identifier(f"{obs}__new_pkey")
            ),
        )
    )
    return statements


def swap_in(conn: Connection, final: str, indexes: tuple[str, ...]) -> None:
    """Drop `final` and give `final__new` (and its indexes) its name."""
    new = f"{final}__new"
    execute(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(final)))
    execute(conn, sql.SQL("ALTER TABLE {} RENAME TO {}").format(qualified(new), sql.Identifier(final)))
    for suffix in indexes:
        execute(
            conn,
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                qualified(f"{new}_{suffix}"), sql.Identifier(f"{final}_{suffix}")
            ),
        )
