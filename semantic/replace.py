"""A whole-cube load ("create" or "replace"): fresh tables swapped in at the end.

Cells and observations are COPYed into fresh, unindexed `*__new` tables (with FREEZE: they were
created in this transaction), then get their keys and indexes, replace the old tables and the
registry is rewritten. Static (y, x) layers are columns of the cells table and travel in the cells'
COPY. When the cells would come out the same as the ones in the database (same cells digest: grid,
window, static layers) the cells table is kept and only the observations are rebuilt.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import schema
from semantic.blocks import cell_blocks, observation_blocks
from semantic.cells_digest import cells_digest
from semantic.copy_stream import copy_blocks
from semantic.cube import CubeSelection
from semantic.indexes import index_statements, swap_in, tune_index_builds
from semantic.load_report import Phases, ProgressHook
from semantic.registry_rows import write_registry
from semantic.statements import execute, qualified, table_exists


def replace_cube(
    conn: Connection, cube_id: str, sel: CubeSelection, row: Any, hook: ProgressHook, phases: Phases
) -> bool:
    """Load the whole selection into fresh tables swapped in at the end; True if the cells were kept.

    `row` is the cube's registry row, None for a cube not loaded yet. The cells are kept when its
    cells digest equals this cube's (same grid, window and static layers, see
    semantic.cells_digest): only the observations are rebuilt then.
    """
    cells, obs = schema.cells_table_name(cube_id), schema.observations_table_name(cube_id)
    digest = cells_digest(sel)
    keep_cells = row is not None and row.cells_digest == digest and table_exists(conn, cells)
    phases.mark("cells digest")
    columns = [v.column for v in sel.variables]
    fresh = [(obs, schema.observations_table(f"{obs}__new", columns))]
    if not keep_cells:
        fresh.insert(0, (cells, schema.cells_table(f"{cells}__new", sel.static)))
    for name, table in fresh:  # leftovers cannot exist (DDL is transactional), but be explicit
        execute(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(f"{name}__new")))
        conn.execute(sa.text(schema.create_table_ddl(table)))
    phases.mark("create tables")

    if keep_cells:
        hook("cells", sel.n_cells, sel.n_cells)
    else:
        copy_blocks(
            conn,
            f"{cells}__new",
            ["cell_id", "row", "col", "geom", *[v.column for v in sel.static]],
            cell_blocks(sel),
            freeze=True,
            phase="cells",
            expected_rows=sel.n_cells,
            hook=hook,
            phases=phases,
        )
    copy_blocks(
        conn,
        f"{obs}__new",
        ["cell_id", "time", *columns],
        observation_blocks(sel, step_defaults=True),
        freeze=True,
        phase="observations",
        expected_rows=sel.n_observations,
        hook=hook,
        phases=phases,
    )

    statements = index_statements(cube_id, cells=not keep_cells)
    hook("indexes", 0, len(statements))
    tune_index_builds(conn)
    phases.mark("index settings")
    for k, (label, statement) in enumerate(statements, start=1):
        execute(conn, statement)
        phases.mark(label)
        hook("indexes", k, len(statements))

    swap_in(conn, obs, ("pkey",))
    if not keep_cells:
        swap_in(conn, cells, ("pkey", "geom_idx"))
    phases.mark("drop old + rename")
    for name, _ in fresh:
        execute(conn, sql.SQL("ANALYZE {}").format(qualified(name)))
        phases.mark(f"ANALYZE {'cells' if name == cells else 'observations'}")
    write_registry(conn, cube_id, sel, replace=True, cells_digest=digest)
    phases.mark("registry")
    return keep_cells
