"""Cube -> PostGIS in one transaction at COPY speed.

The plan of one load:
1. open and validate the cube (no database work before the input is known to be good);
2. one transaction: create/migrate the schema, take the cube's advisory lock;
3. whole-cube load ("replace"): COPY cells and observations into fresh, unindexed `*_new` tables
   (with FREEZE: they were created in this transaction), add keys and indexes, drop the old tables and
   rename the new ones, rewrite the registry; static (y, x) layers are columns of the cells table and
   travel in the cells' COPY; when the cells would come out the same as the ones in the database (same
   cells digest: grid, window, static layers) the cells table is kept and only observations are rebuilt;
   time-range load into an existing cube ("append"): delete that time range, COPY into the live table;
   the cells table, and so the static layers, are left exactly as they are;
4. commit. Any exception, a kill or a crash before the commit leaves the database as it was.

Values are read block by block along the cube's own chunks (time chunk x row chunk, all columns of the
window), encoded by numpy on a producer thread and streamed into a single COPY, so memory depends on the
chunk size, not on the number of time steps.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import copy_buffers, dtypes, grid, schema
from semantic.cells_digest import cells_digest
from semantic.cube import CubeSelection, check_cube_id, default_cube_id, select
from semantic.database import connect
from semantic.errors import IncompatibleLoadError

ProgressHook = Callable[[str, int, int], None]
"""Called as hook(phase, done, total) with phase in {"cells", "observations", "indexes"}."""

MAX_BLOCK_CELLS = 4_000_000  # time steps x cells read at once: 16 MB per variable
ENCODE_ROWS = 262_144  # rows per encoded COPY slice (~10 MB)
QUEUE_DEPTH = 2
STEP_COPY_MIN_ROWS = 100_000  # cells per read block from which a time step goes as its own COPY
INDEX_PARALLEL_WORKERS = 2  # parallel B-tree build workers asked for (SET LOCAL)
INDEX_MAINTENANCE_WORK_MEM = "64MB"  # 32 MB per participant: the leader and one worker


@dataclass
class LoadReport:
    """What a load did; the CLI prints it and the bench reads the timings."""

    cube_id: str
    mode: str  # "create" (first load), "replace" (whole cube again) or "append" (a time range)
    n_cells: int
    n_observations: int
    n_times: int
    variables: list[str]
    seconds: float
    static: list[str] = field(default_factory=list)  # static layers on the cells after the load
    skipped_static: list[str] = field(default_factory=list)  # static layers of a type SQL cannot hold
    cells_kept: bool = False  # a replace found the cells unchanged (same digest) and kept their table
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase, in order

    @property
    def rows_per_second(self) -> float:
        return self.n_observations / self.seconds if self.seconds else float("inf")


@dataclass(frozen=True)
class Block:
    """One encoded slice of a COPY stream: `rows` tuples in `data`.

    `time` is set when the slice is one time step encoded without the time field (see `_copy`).
    """

    rows: int
    data: copy_buffers.Buffer
    time: np.datetime64 | None = None


class Phases:
    """Wall-clock seconds per named phase of a load (a phase timed twice adds up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = clock.perf_counter()

    def mark(self, name: str) -> None:
        """The time since the previous mark belongs to `name`."""
        now = clock.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def lock_cube(conn: Connection, cube_id: str) -> None:
    """Serialise loads of the same cube; released at commit or rollback (or when the backend dies)."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"deepcube.cube:{cube_id}"})


def _time_blocks(sel: CubeSelection) -> list[np.ndarray]:
    """Selected time positions grouped by the cube's time chunks."""
    chunk = sel.time_chunk()
    groups = sel.time_index // chunk
    return [sel.time_index[groups == g] for g in np.unique(groups)]


def _row_blocks(sel: CubeSelection, n_times: int) -> list[tuple[int, int]]:
    """Row ranges holding at most MAX_BLOCK_CELLS values; whole row chunks when they must be split.

    Usually one block spans all rows of a time chunk, so the COPY stream is sorted by (time, cell_id):
    the primary key then builds from presorted input, the cheapest index build there is.
    """
    row0, row1, col0, col1 = sel.window
    cap = max(1, MAX_BLOCK_CELLS // max(1, n_times * (col1 - col0)))
    if cap >= row1 - row0:
        return [(row0, row1)]
    chunk = sel.row_chunk()
    step = max(chunk, (cap // chunk) * chunk) if cap >= chunk else cap
    return [(start, min(start + step, row1)) for start in range(row0, row1, step)]


def observation_blocks(sel: CubeSelection, *, step_defaults: bool = False) -> Iterator[Block]:
    """Encoded observations per slice, in (time, cell_id) order when a read block spans all rows.

    Values are read one block at a time (time chunk x rows) and encoded in slices of about
    ENCODE_ROWS rows, small enough to stay in cache and to keep the COPY stream flowing.

    With `step_defaults` (a fresh table that only this transaction sees), a read block with at least
    STEP_COPY_MIN_ROWS cells is sent one time step per slice without the time field: `_copy` makes the
    step's time the column default for that slice's COPY. Smaller blocks carry the time in every row.
    """
    ds = sel.dataset
    _, _, col0, col1 = sel.window
    for tpos in _time_blocks(sel):
        t0, t1 = int(tpos[0]), int(tpos[-1]) + 1
        times = sel.times[(sel.time_index >= t0) & (sel.time_index < t1)]
        for r0, r1 in _row_blocks(sel, t1 - t0):
            rows = np.repeat(np.arange(r0, r1), col1 - col0)
            cols = np.tile(np.arange(col0, col1), r1 - r0)
            cell_ids = grid.cell_ids(sel.grid, rows, cols)
            per_step = cell_ids.size
            by_step = step_defaults and per_step >= STEP_COPY_MIN_ROWS
            template = copy_buffers.observation_template(cell_ids, len(sel.variables), with_time=not by_step)
            values = [
                np.asarray(ds[var.name].variable[t0:t1, r0:r1, col0:col1].values, dtype=np.float32).reshape(
                    t1 - t0, -1
                )
                for var in sel.variables
            ]
            steps = 1 if by_step else max(1, ENCODE_ROWS // per_step)
            for i in range(0, t1 - t0, steps):
                j = min(i + steps, t1 - t0)
                step_values = [v[i:j] for v in values]
                if by_step:
                    data = copy_buffers.observation_rows(cell_ids, None, step_values, template)
                    yield Block((j - i) * per_step, data, times[i])
                else:
                    data = copy_buffers.observation_rows(cell_ids, times[i:j], step_values, template)
                    yield Block((j - i) * per_step, data)


def cell_blocks(sel: CubeSelection, band: int = 256) -> Iterator[Block]:
    """Cells band by band (rows), each with the window's slice of every selected static layer."""
    row0, row1, col0, col1 = sel.window
    types = [dtypes.by_sql(v.sql_type) for v in sel.static]
    for r0 in range(row0, row1, band):
        r1 = min(r0 + band, row1)
        lon, lat = grid.corner_lonlat(sel.grid, r0, r1, col0, col1)
        rows = np.repeat(np.arange(r0, r1, dtype=np.int32), col1 - col0)
        cols = np.tile(np.arange(col0, col1, dtype=np.int32), r1 - r0)
        static = [
            (column, np.asarray(sel.dataset[v.name].variable[r0:r1, col0:col1].values))
            for v, column in zip(sel.static, types, strict=True)
        ]
        cell_ids = grid.cell_ids(sel.grid, rows, cols)
        yield Block(rows.size, copy_buffers.cell_rows(cell_ids, rows, cols, lon, lat, static))


def _prefetched(blocks: Iterator[Block], stats: dict[str, float]) -> Iterator[Block]:
    """Run the block producer on a thread (numpy and Zarr decode release the GIL) with a small queue,
    so reading/encoding overlaps with the server ingesting the previous block.

    `stats` receives "produce" (seconds the producer spent reading and encoding) and "wait"
    (seconds the consumer waited for a block): a large "wait" means the producer is the bottleneck.
    """
    q: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    done = object()
    stop = threading.Event()
    produced = [0.0]

    def produce() -> None:
        try:
            it = iter(blocks)
            while True:
                started = clock.perf_counter()
                item = next(it, done)
                produced[0] += clock.perf_counter() - started
                if item is done:
                    break
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, name="semantic-encoder", daemon=True)
    thread.start()
    waited = 0.0
    try:
        while True:
            started = clock.perf_counter()
            item = q.get()
            waited += clock.perf_counter() - started
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
        stats["produce"] = stats.get("produce", 0.0) + produced[0]
        stats["wait"] = stats.get("wait", 0.0) + waited


def _copy(
    conn: Connection,
    table: str,
    columns: list[str],
    blocks: Iterator[Block],
    *,
    freeze: bool,
    phase: str,
    expected_rows: int,
    hook: ProgressHook,
    phases: Phases,
) -> int:
    """Stream blocks into binary COPYs on the transaction's own psycopg connection.

    Consecutive blocks without a step time go into one COPY of `columns`. Blocks of one step time
    (see `observation_blocks`) go into a COPY without the `time` column, after that time is made the
    column's default; the default is dropped again at the end. Progress goes to `hook` as `phase`;
    the COPY's wall time and its producer's share go to `phases`.
    """
    raw = conn.connection.driver_connection
    target = _qualified(table)
    stats: dict[str, float] = {}
    total = 0
    defaulted = False
    with raw.cursor() as cur:
        for time, group in itertools.groupby(_prefetched(blocks, stats), key=lambda block: block.time):
            copied = columns
            if time is not None:
                copied = [c for c in columns if c != "time"]
                default = sql.SQL("ALTER TABLE {} ALTER COLUMN time SET DEFAULT {}::timestamp")
                cur.execute(default.format(target, sql.Literal(str(np.datetime64(time, "us")))))
                defaulted = True
            statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary{})").format(
                target,
                sql.SQL(", ").join(map(sql.Identifier, copied)),
                sql.SQL(", FREEZE") if freeze else sql.SQL(""),
            )
            with cur.copy(statement) as copy:
                copy.write(copy_buffers.HEADER)
                for block in group:
                    copy.write(block.data)
                    total += block.rows
                    hook(phase, total, expected_rows)
                copy.write(copy_buffers.TRAILER)
        if defaulted:
            cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN time DROP DEFAULT").format(target))
    phases.mark(f"{phase} COPY")
    phases.add(f"  {phase} read+encode (producer)", stats["produce"])
    phases.add(f"  {phase} COPY waited for producer", stats["wait"])
    return total


def _exec(conn: Connection, statement: sql.Composable) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(statement)


def _tune_index_builds(conn: Connection) -> None:
    """Parallel key/index builds for this transaction only (SET LOCAL: nothing outlives it).

    PostgreSQL 15 builds B-trees in parallel: the workers split the heap scan, the costliest part of
    the observations key. A parallel build always sorts externally (each participant writes runs, the
    leader merges them), PostgreSQL gives each participant at least 32 MB, and the leader allocates
    its whole share as merge buffers: more memory page-faults for longer than it saves. Measured here
    (7.5M presorted rows, 2 cores, CREATE UNIQUE INDEX, 3 runs each): serial 16 MB-1 GB 1.6-2.0 s;
    1 worker + leader with 64 MB 1.29-1.36 s, 96 MB 1.34-1.37 s, 192 MB 1.49-1.54 s, 512 MB 1.53 s.
    Our input is presorted, so small runs merge cheaply.
    """
    _exec(
        conn,
        sql.SQL("SET LOCAL max_parallel_maintenance_workers = {}").format(
            sql.Literal(INDEX_PARALLEL_WORKERS)
        ),
    )
    _exec(
        conn, sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(INDEX_MAINTENANCE_WORK_MEM))
    )


def _qualified(name: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(schema.SCHEMA), sql.Identifier(name))


def _table_exists(conn: Connection, name: str) -> bool:
    return conn.execute(
        sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": f'{schema.SCHEMA}."{name}"'}
    ).scalar_one()


def _write_registry(
    conn: Connection, cube_id: str, sel: CubeSelection, *, replace: bool, cells_digest: str | None = None
) -> None:
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


def _index_statements(cube_id: str, *, cells: bool) -> list[tuple[str, sql.Composable]]:
    """(phase label, statement) for the keys and indexes of the fresh `*__new` tables."""
    cells_name, obs = schema.cells_table_name(cube_id), schema.observations_table_name(cube_id)
    statements = []
    if cells:
        statements += [
            (
                "cells primary key",
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (cell_id)").format(
                    _qualified(f"{cells_name}__new"), sql.Identifier(f"{cells_name}__new_pkey")
                ),
            ),
            (
                "cells GiST index",
                sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
                    sql.Identifier(f"{cells_name}__new_geom_idx"), _qualified(f"{cells_name}__new")
                ),
            ),
        ]
    statements.append(
        (
            "observations primary key",
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (time, cell_id)").format(
                _qualified(f"{obs}__new"), sql.Identifier(f"{obs}__new_pkey")
            ),
        )
    )
    return statements


def _swap_in(conn: Connection, final: str, indexes: tuple[str, ...]) -> None:
    """Drop `final` and give `final__new` (and its indexes) its name."""
    new = f"{final}__new"
    _exec(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(final)))
    _exec(conn, sql.SQL("ALTER TABLE {} RENAME TO {}").format(_qualified(new), sql.Identifier(final)))
    for suffix in indexes:
        _exec(
            conn,
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                _qualified(f"{new}_{suffix}"), sql.Identifier(f"{final}_{suffix}")
            ),
        )


def _replace(
    conn: Connection, cube_id: str, sel: CubeSelection, row, hook: ProgressHook, phases: Phases
) -> bool:
    """Whole-cube load into fresh tables swapped in at the end; True if the cells table was kept.

    The cells are kept when the registry's cells digest equals this cube's (same grid, window and
    static layers, see semantic.cells_digest): only the observations are rebuilt then.
    """
    cells, obs = schema.cells_table_name(cube_id), schema.observations_table_name(cube_id)
    digest = cells_digest(sel)
    keep_cells = row is not None and row.cells_digest == digest and _table_exists(conn, cells)
    phases.mark("cells digest")
    columns = [v.column for v in sel.variables]
    fresh = [(obs, schema.observations_table(f"{obs}__new", columns))]
    if not keep_cells:
        fresh.insert(0, (cells, schema.cells_table(f"{cells}__new", sel.static)))
    for name, table in fresh:  # leftovers cannot exist (DDL is transactional), but be explicit
        _exec(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(f"{name}__new")))
        conn.execute(sa.text(schema.create_table_ddl(table)))
    phases.mark("create tables")

    if keep_cells:
        hook("cells", sel.n_cells, sel.n_cells)
    else:
        _copy(
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
    _copy(
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

    statements = _index_statements(cube_id, cells=not keep_cells)
    hook("indexes", 0, len(statements))
    _tune_index_builds(conn)
    phases.mark("index settings")
    for k, (label, statement) in enumerate(statements, start=1):
        _exec(conn, statement)
        phases.mark(label)
        hook("indexes", k, len(statements))

    _swap_in(conn, obs, ("pkey",))
    if not keep_cells:
        _swap_in(conn, cells, ("pkey", "geom_idx"))
    phases.mark("drop old + rename")
    for name, _ in fresh:
        _exec(conn, sql.SQL("ANALYZE {}").format(_qualified(name)))
        phases.mark(f"ANALYZE {'cells' if name == cells else 'observations'}")
    _write_registry(conn, cube_id, sel, replace=True, cells_digest=digest)
    phases.mark("registry")
    return keep_cells


def _registered(conn: Connection, cube_id: str, *, static: bool) -> list[str]:
    return list(
        conn.execute(
            sa.select(schema.cube_variable.c.name)
            .where(schema.cube_variable.c.cube_id == cube_id, schema.cube_variable.c.static.is_(static))
            .order_by(schema.cube_variable.c.position)
        ).scalars()
    )


def _append(
    conn: Connection, cube_id: str, sel: CubeSelection, row, time_range, hook: ProgressHook, phases: Phases
) -> None:
    """Delete the time range, COPY it again: running the same range twice gives the same rows.

    Only observations change. Static layers belong to the cells, which an append does not rewrite, so
    they stay as the last whole-cube load left them whatever this load's selection of static layers.
    """
    known = _registered(conn, cube_id, static=False)
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
    _copy(
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
    _exec(conn, sql.SQL("ANALYZE {}").format(_qualified(obs)))
    phases.mark("ANALYZE observations")
    _write_registry(conn, cube_id, sel, replace=False)
    phases.mark("registry")


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
    from semantic.cube import parse_time_range

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
            tables_exist = _table_exists(conn, schema.observations_table_name(cube_id))
            phases.mark("schema + lock")
            if time_range is not None and row is not None and tables_exist:
                mode = "append"
                _append(conn, cube_id, sel, row, time_range, hook, phases)
                static = _registered(conn, cube_id, static=True)
            else:
                mode = "create" if row is None else "replace"
                cells_kept = _replace(conn, cube_id, sel, row, hook, phases)
                static = [v.name for v in sel.static]
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
