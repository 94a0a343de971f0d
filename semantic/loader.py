"""Cube -> PostGIS in one transaction at COPY speed.

The plan of one load:
1. open and validate the cube (no database work before the input is known to be good);
2. one transaction: create/migrate the schema, take the cube's advisory lock;
3. whole-cube load ("replace", `semantic.replace`): COPY cells and observations into fresh tables,
   add keys and indexes (`semantic.indexes`), swap them in, rewrite the registry
   (`semantic.registry_rows`); time-range load into an existing cube ("append",
   `semantic.append`): delete that time range, COPY into the live table;
4. check again that no cube-engine writer is changing the cube in place (a writer that starts
   during a long load may leave the rows read a mix of old and new; one still running at this point
   is seen, one that started and committed in between is not);
5. commit. Any exception, a kill or a crash before the commit leaves the database as it was.

Values are read block by block along the cube's own chunks and encoded by numpy
(`semantic.blocks`) on a producer thread that feeds a single binary COPY (`semantic.copy_stream`),
so memory depends on the chunk size, not on the number of time steps.
"""

from __future__ import annotations

import time as clock
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from semantic import schema
from semantic.append import append_time_range
from semantic.cube import CubeSelection, check_cube_id, default_cube_id, parse_time_range, select
from semantic.database import connect
from semantic.errors import CubeError
from semantic.load_report import LoadReport, Phases, ProgressHook
from semantic.registry_rows import registered_variables
from semantic.replace import replace_cube
from semantic.statements import table_exists


def lock_cube(conn: Connection, cube_id: str) -> None:
    """Serialise loads of the same cube; released at commit or rollback (or when the backend dies)."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"deepcube.cube:{cube_id}"})


def check_no_writer(sel: CubeSelection) -> None:
    """CubeError if a cube-engine writer is now changing the cube in place (step 4 of the plan).

    The same check as when the cube was opened (`cube_engine.access.writer_in_flight`); a store that
    cannot be asked any more is an error too, since the load cannot vouch for what it read.
    """
    from cube_engine.access import writer_in_flight
    from cube_engine.outputs import describe

    try:
        busy = writer_in_flight(sel.uri, sel.storage_options)
    except Exception as exc:
        busy = f"cannot check it for a writer before commit ({describe(exc, sel.uri, sel.storage_options)})"
    if busy is not None:
        raise CubeError(f"cannot load cube {sel.uri}: {busy}; the load was rolled back, nothing changed")


def load_cube(
    uri: str,
    dsn: str | None,
    *,
    cube_id: str | None = None,
    variables: list[str] | None = None,
    time: str | None = None,
    bbox: str | None = None,
    progress: ProgressHook | None = None,
    storage_options: dict[str, Any] | None = None,
) -> LoadReport:
    """Load a Zarr cube (folder or s3://) into PostGIS; see the module docstring for the guarantees.

    Without `time`, the cube is replaced as a whole. With `time`, an existing cube of the same grid and
    variables gets that time range replaced (idempotent); a cube not yet in the database is created.
    """
    started = clock.perf_counter()
    phases = Phases()
    hook = progress or (lambda phase, done, total: None)
    cube_id = check_cube_id(cube_id or default_cube_id(uri))
    sel = select(uri, variables=variables, time=time, bbox=bbox, storage_options=storage_options)
    time_range = parse_time_range(time)
    phases.mark("open cube")
    cells_kept = False
    with connect(dsn) as conn:
        phases.mark("connect")
        with conn.begin():
            schema.ensure_schema(conn)
            lock_cube(conn, cube_id)
            row = conn.execute(sa.select(schema.cube).where(schema.cube.c.id == cube_id)).one_or_none()
            tables_exist = table_exists(conn, schema.observations_table_name(cube_id))
            phases.mark("schema + lock")
            if time_range is not None and row is not None and tables_exist:
                mode = "append"
                append_time_range(conn, cube_id, sel, row, time_range, hook, phases)
                static = registered_variables(conn, cube_id, static=True)
            else:
                mode = "create" if row is None else "replace"
                cells_kept = replace_cube(conn, cube_id, sel, row, hook, phases)
                static = [v.name for v in sel.static]
            check_no_writer(sel)
        phases.mark("commit")
    return LoadReport(
        cube_id=cube_id,
        mode=mode,
        n_cells=sel.n_cells,
        n_observations=sel.n_observations,
        n_times=len(sel.times),
        variables=[v.name for v in sel.variables],
        seconds=clock.perf_counter() - started,
        static=static,
        skipped_static=sel.skipped_static,
        cells_kept=cells_kept,
        phases=phases.seconds,
    )
