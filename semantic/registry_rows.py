"""Writing a loaded cube's registry rows (`semantic.registry` reads them back).

A whole-cube load rewrites the cube's row and its variables; every load adds its time steps and
updates the cube's time bounds, load time and source.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from semantic import grid, schema
from semantic.cube import CubeSelection


def write_registry(
    conn: Connection, cube_id: str, sel: CubeSelection, *, replace: bool, cells_digest: str | None = None
) -> None:
    """The registry rows of this load: all of them with `replace`, else the time steps and bounds."""
    if replace:
        conn.execute(sa.delete(schema.cube).where(schema.cube.c.id == cube_id))
        conn.execute(
            sa.insert(schema.cube).values(
                id=cube_id,
                title=sel.title,
                crs=grid.crs_label(sel.grid),
                grid=grid.grid_record(sel.grid),
                window=list(sel.window),
                source_uri=sel.uri,
                cells_table=schema.cells_table_name(cube_id),
                observations_table=schema.observations_table_name(cube_id),
                cells_digest=cells_digest,
            )
        )
        conn.execute(
            sa.insert(schema.cube_variable),
            [
                {
                    "cube_id": cube_id,
                    "name": v.name,
                    "column_name": v.column,
                    "units": v.units,
                    "long_name": v.long_name,
                    "position": i,
                    "static": v.static,
                    "sql_type": v.sql_type,
                }
                for i, v in enumerate([*sel.variables, *sel.static])
            ],
        )
    conn.execute(
        sa.insert(schema.cube_time),
        [{"cube_id": cube_id, "time": t.astype("datetime64[us]").item()} for t in sel.times],
    )
    bounds = sa.select(sa.func.min(schema.cube_time.c.time), sa.func.max(schema.cube_time.c.time)).where(
        schema.cube_time.c.cube_id == cube_id
    )
    start, end = conn.execute(bounds).one()
    conn.execute(
        sa.update(schema.cube)
        .where(schema.cube.c.id == cube_id)
        .values(time_start=start, time_end=end, loaded_at=sa.func.now(), source_uri=sel.uri)
    )


def registered_variables(conn: Connection, cube_id: str, *, static: bool) -> list[str]:
    """Names of the cube's registered (time, y, x) variables, or of its static layers, in order."""
    return list(
        conn.execute(
            sa.select(schema.cube_variable.c.name)
            .where(schema.cube_variable.c.cube_id == cube_id, schema.cube_variable.c.static.is_(static))
            .order_by(schema.cube_variable.c.position)
        ).scalars()
    )
