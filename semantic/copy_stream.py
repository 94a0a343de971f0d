"""Streaming encoded blocks into PostgreSQL with binary COPY.

A producer thread reads and encodes the next blocks (numpy and Zarr decode release the GIL) while
the main thread writes the previous ones into the COPY, so reading/encoding overlaps with the
server ingesting. The queue between them is small (QUEUE_DEPTH blocks), so memory stays a few
blocks whatever the cube's size.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time as clock
from collections.abc import Iterator

import numpy as np
from psycopg import sql
from sqlalchemy.engine import Connection

from semantic import copy_buffers
from semantic.blocks import Block
from semantic.load_report import Phases, ProgressHook
from semantic.statements import qualified

QUEUE_DEPTH = 2


def prefetched(blocks: Iterator[Block], stats: dict[str, float]) -> Iterator[Block]:
    """Run the block producer on a thread with a small queue (see the module docstring).

    `stats` receives "produce" (seconds the producer spent reading and encoding) and "wait"
    (seconds the consumer waited for a block): a large "wait" means the producer is the bottleneck.
    An exception of the producer is raised in the consumer; a consumer that stops early (an error
    in the COPY) stops the producer.
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


def copy_blocks(
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
    """Stream blocks into binary COPYs on the transaction's own psycopg connection; the rows copied.

    Consecutive blocks without a step time go into one COPY of `columns`. Blocks of one step time
    (see `semantic.blocks.observation_blocks`) go into a COPY without the `time` column, after that
    time is made the column's default; the default is dropped again at the end. FREEZE is for
    tables created in this transaction only. Progress goes to `hook` as `phase`; the COPY's wall
    time and its producer's share go to `phases`.
    """
    raw = conn.connection.driver_connection
    target = qualified(table)
    stats: dict[str, float] = {}
    total = 0
    defaulted = False
    with raw.cursor() as cur:
        for time, group in itertools.groupby(prefetched(blocks, stats), key=lambda block: block.time):
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
