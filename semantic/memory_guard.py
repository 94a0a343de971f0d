"""A ceiling on how much a local query may grow the process's memory.

Counting triples before materialising bounds the graph, not the evaluation: a query joining every cell
with every other, or sorting a huge intermediate result, can outgrow the graph many times over. A
watcher thread reads the resident set size (/proc/self/statm, Linux) every POLL_SECONDS and, once it
has grown by more than the allowance since the block began, interrupts the main thread; the caller
turns that into a one-line error. Growth, not the absolute size, is what is limited, so a long-lived
process (a notebook) holding other data is judged on the query alone. Where /proc is not available
the guard does nothing.
"""

from __future__ import annotations

import _thread
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.05
STATM = Path("/proc/self/statm")


def resident_bytes() -> int | None:
    try:
        return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class MemoryCeilingExceeded(Exception):
    """Raised in the main thread when the resident set grew past the ceiling."""


@contextmanager
def growth(allowance_bytes: int) -> Iterator[None]:
    """Run the block; MemoryCeilingExceeded once the resident set grew by more than the allowance."""
    start = resident_bytes()
    if start is None:
        yield
        return
    limit_bytes = start + allowance_bytes
    stop, tripped = threading.Event(), threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_SECONDS):
            size = resident_bytes()
            if size is not None and size > limit_bytes:
                tripped.set()
                _thread.interrupt_main()
                return

    watcher = threading.Thread(target=watch, name="semantic-memory-ceiling", daemon=True)
    watcher.start()
    try:
        yield
    except KeyboardInterrupt:
        if tripped.is_set():
            raise MemoryCeilingExceeded(limit_bytes) from None
        raise
    finally:
        stop.set()
        watcher.join()
