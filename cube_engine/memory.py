"""glibc heap tuning for the pipeline's large, short-lived buffers (see `reuse_heap_memory`)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

# glibc mallopt parameters and their defaults
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_MALLOC_DEFAULTS = ((_M_TRIM_THRESHOLD, 128 * 1024), (_M_TOP_PAD, 128 * 1024), (_M_MMAP_MAX, 65536))


@contextlib.contextmanager
def reuse_heap_memory() -> Iterator[None]:
    """While the pipeline runs, keep freed memory in glibc's heap instead of unmapping it. Every band,
    read buffer and chunk temporary is MiBs: by default glibc serves those with mmap (or trims the
    heap after them), so each one is page-faulted in and zeroed by the kernel again (~0.7 s of
    system time per 30-day bench run, ~0.5 s of wall time). Peak RSS is unchanged: the same bytes
    are reused. glibc's defaults are restored afterwards (its dynamic mmap threshold stays off) and
    the unused heap is released. `CUBE_ENGINE_MALLOC_TUNING=0` disables this; a no-op off glibc."""
    libc = None
    if sys.platform.startswith("linux") and os.environ.get("CUBE_ENGINE_MALLOC_TUNING", "1") != "0":
        with contextlib.suppress(OSError, AttributeError):
            found = ctypes.CDLL(None)
            found.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            found.malloc_trim.argtypes = [ctypes.c_size_t]
            libc = found
    if libc is not None:
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**30)
        libc.mallopt(_M_TOP_PAD, 64 * 2**20)
    try:
        yield
    finally:
        if libc is not None:
            for param, value in _MALLOC_DEFAULTS:
                libc.mallopt(param, value)
            libc.malloc_trim(0)
