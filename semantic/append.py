"""A time-range load into a cube already in the database ("append").

The range is deleted and COPYed again into the live observations table, so running the same range
twice gives the same rows. Only observations change: static layers belong to the cells, which an
append does not rewrite, so they stay as the last whole-cube load left them whatever this load's
selection of static layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import grid, schema
from semantic.blocks import observation_blocks
from semantic.copy_stream import copy_blocks
from semantic.cube import CubeSelection
from semantic.errors import IncompatibleLoadError
from semantic.load_report import Phases, ProgressHook
from semantic.registry_rows import registered_variables, write_registry
from semantic.statements import execute, qualified


def append_time_range(
    conn: Connection,
    cube_id: str,
    sel: CubeSelection,
    row: Any,
    time_range: tuple[np.datetime64, np.datetime64],
    hook: ProgressHook,
    phases: Phases,
) -> None:
    """Delete `time_range` (inclusive) of the cube and COPY the selection's steps in its place.

    `row` is the cube's registry row: the selection must have the registered variables, grid and
    window (IncompatibleLoadError otherwise: a whole-cube load changes those).
    """
    known = registered_variables(conn, cube_id, static=False)
    wanted = [v.name for v in sel.variables]
    if known != wanted:
        raise IncompatibleLoadError(
            f"cube {cube_id!r} holds variables {known}, this load has {wanted}: load the whole cube "
            "(without --time) to change its variables"
        )
    if row.grid != grid.grid_record(sel.grid) or list(row.window) != list(sel.window):
        raise IncompatibleLoadError(
            f"cube {cube_id!r} in the database has another grid or --bbox window than {sel.uri}: "
            "load the whole cube (without --time) to replace it"
        )
    obs = schema.observations_table_name(cube_id)
    start, end = time_range
    conn.execute(
        sa.text(f'DELETE FROM {schema.SCHEMA}."{obs}" WHERE time BETWEEN :a AND :b'),
        {"a": start.item(), "b": end.item()},
    )
    conn.execute(
        sa.delete(schema.cube_time).where(
            schema.cube_time.c.cube_id == cube_id, schema.cube_time.c.time.between(start.item(), end.item())
        )
    )
    phases.mark("delete time range")
    copy_blocks(
        conn,
        obs,
        ["cell_id", "time", *[v.column for v in sel.variables]],
        observation_blocks(sel),
        freeze=False,
        phase="observations",
        expected_rows=sel.n_observations,
        hook=hook,
        phases=phases,
    )
    execute(conn, sql.SQL("ANALYZE {}").format(qualified(obs)))
    phases.mark("ANALYZE observations")
    write_registry(conn, cube_id, sel, replace=False)
    phases.mark("registry")
