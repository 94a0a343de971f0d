"""A small thread-safe LRU memo for plans shared by the pipeline's threads.

Reader and writer threads look up the same per-tile operators at once; a plain dict cleared when
full lets one thread clear it between another's store and load. Here lookups and stores hold one
lock, eviction drops only the least recently used entry, and the value is computed outside the lock
(two threads may compute the same pure value once each; neither waits on the other's work). A memo
is not part of the value that holds it: it pickles as an empty memo of the same size, so a plan
shipped to a Dask worker starts with its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class LockedLRU(Generic[V]):
    """`get(key, compute)` returns the cached value or stores compute(). Bounded by `maxsize`
    entries, or with `weigh` by the sum of weigh(value) (e.g. bytes); the newest entry always stays."""

    def __init__(self, maxsize: int, weigh: Callable[[V], int] | None = None):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.weigh = weigh
        self._lock = threading.Lock()
        self._data: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._total = 0

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            found = self._data.get(key, _MISSING)
            if found is not _MISSING:
                self._data.move_to_end(key)
                return found[0]  # type: ignore[index]
        value = compute()
        weight = 1 if self.weigh is None else max(0, int(self.weigh(value)))
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._data[key] = (value, weight)
            self._total += weight
            while self._total > self.maxsize and len(self._data) > 1:
                _, (_, dropped) = self._data.popitem(last=False)
                self._total -= dropped
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __reduce__(self):
        return (type(self), (self.maxsize, self.weigh))
