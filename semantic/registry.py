"""Reading the cube registry: what the mapping generator and the query command need to know."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from semantic import schema
from semantic.cube import Variable
from semantic.errors import UnknownCubeError
from semantic.grid import Grid, corner_lonlat, grid_from_record


@dataclass(frozen=True)
class CubeInfo:
    """One loaded cube as the registry describes it."""

    id: str
    title: str
    grid: Grid
    window: tuple[int, int, int, int]
    variables: tuple[Variable, ...]  # (time, y, x): columns of the observations table
    time_start: datetime | None
    time_end: datetime | None
    source_uri: str
    cells_table: str
    observations_table: str
    static_variables: tuple[Variable, ...] = ()  # (y, x): columns of the cells table

    def bbox(self) -> tuple[float, float, float, float]:
        """West, south, east, north in EPSG:4326 of the loaded window."""
        r0, r1, c0, c1 = self.window
        lon, lat = corner_lonlat(self.grid, r0, r1, c0, c1)
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def known_cube_ids(conn: Connection) -> list[str]:
    if schema.current_version(conn) == 0:
        return []
    return list(conn.execute(sa.select(schema.cube.c.id).order_by(schema.cube.c.id)).scalars())


def cube_info(conn: Connection, cube_id: str) -> CubeInfo:
    """The registry entry, or an UnknownCubeError listing the cubes that do exist."""
    row = None
    schema.require_current(conn)
    if schema.current_version(conn) > 0:
        row = conn.execute(sa.select(schema.cube).where(schema.cube.c.id == cube_id)).one_or_none()
    if row is None:
        known = known_cube_ids(conn)
        raise UnknownCubeError(
            f"unknown cube id {cube_id!r}: the database holds "
            + (", ".join(repr(k) for k in known) if known else "no cubes (run `semantic load` first)")
        )
    registered = [
        Variable(
            name=v.name,
            column=v.column_name,
            units=v.units,
            long_name=v.long_name,
            static=v.static,
            sql_type=v.sql_type,
        )
        for v in conn.execute(
            sa.select(schema.cube_variable)
            .where(schema.cube_variable.c.cube_id == cube_id)
            .order_by(schema.cube_variable.c.position)
        )
    ]
    return CubeInfo(
        id=row.id,
        title=row.title,
        grid=grid_from_record(row.grid),
        window=tuple(row.window),
        variables=tuple(v for v in registered if not v.static),
        time_start=row.time_start,
        time_end=row.time_end,
        source_uri=row.source_uri,
        cells_table=row.cells_table,
        observations_table=row.observations_table,
        static_variables=tuple(v for v in registered if v.static),
    )
