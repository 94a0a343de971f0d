"""Progress lines: each step of a box run says what it does and how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Progress:
    """Prints `[mm:ss] message` lines to stderr, steps with their duration."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def stamp(self) -> str:
        elapsed = int(time.monotonic() - self.start)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"

    def say(self, message: str) -> None:
        print(f"{self.stamp()}   {message}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        print(f"{self.stamp()} {title}", file=sys.stderr, flush=True)
        began = time.monotonic()
        yield
        self.say(f"done in {time.monotonic() - began:.0f} s")
