"""The local pipeline: reader threads decode and aggregate bands while a worker pool resamples,
compresses and writes the chunks of bands already read.

NetCDF and GeoTIFF reads are serialised by the library lock anyway, so there is one reader per two
workers. At most `workers + 1` bands are held in memory, so memory is flat however long the cube
is. The first failure in either stage stops both and is raised in the calling thread.
"""

from __future__ import annotations

import functools
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from .. import bands
from ..cubeplan import CubePlan
from . import Progress


class _Pipeline:
    """One run's shared state: the task iterator, the band slots, and the event queue the calling
    thread drains (None: one task finished; an exception: stop)."""

    def __init__(self, plan: CubePlan, store_path: str, workers: int, ready: Future | None):
        self.plan, self.store_path, self.ready = plan, store_path, ready
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.slots = threading.Semaphore(workers + 1)
        self.next_task = iter(plan.tasks)
        self.next_lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        self.stop.set()
        self.events.put(exc)

    def finish_tile(
        self, band: bands.Band, remaining: list[int], lock: threading.Lock, future: Future
    ) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.fail(future.exception())
            return
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            band.data = None
            self.slots.release()
            self.events.put(None)

    def _take(self):
        with self.next_lock:
            return next(self.next_task, None)

    def reader(self, pool: ThreadPoolExecutor) -> None:
        while not self.stop.is_set():
            task = self._take()
            if task is None:
                return
            while not self.slots.acquire(timeout=0.1):
                if self.stop.is_set():
                    return
            try:
                band = bands.read_band(self.plan, task)
                if self.ready is not None and band is not None:
                    self.ready.result()
            except BaseException as exc:  # reported to the calling thread, which raises it
                self.slots.release()
                self.fail(exc)
                return
            if band is None:
                self.slots.release()
                self.events.put(None)
                continue
            remaining, lock = [len(band.tiles)], threading.Lock()
            for tile in band.tiles:
                future = pool.submit(bands.write_tile, self.plan, self.store_path, band, tile)
                future.add_done_callback(functools.partial(self.finish_tile, band, remaining, lock))


def run_threads(
    plan: CubePlan, store_path: str, workers: int, progress: Progress | None, ready: Future | None = None
) -> None:
    """Run every task of `plan` on `workers` threads (plus one reader per two of them)."""
    total = len(plan.tasks)
    pipeline = _Pipeline(plan, store_path, workers, ready)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cube-write")
    readers = [
        threading.Thread(target=pipeline.reader, args=(pool,), name=f"cube-read-{i}", daemon=True)
        for i in range(max(1, workers // 2))
    ]
    try:
        for thread in readers:
            thread.start()
        done = 0
        while done < total:
            item = pipeline.events.get()
            if item is not None:
                raise item
            done += 1
            if progress:
                progress(done, total)
    finally:
        pipeline.stop.set()
        for thread in readers:
            thread.join()
        pool.shutdown(wait=True, cancel_futures=True)
