"""`python -m tests.cube_engine.slow_cli TASK_DELAY PUBLISH_DELAY ARGS...`: the real `cube-engine`
command, slowed down from outside so that a test can kill it at a chosen moment.

The engine has no fault-injection knobs of its own: this launcher wraps two of its seams before the
command runs, in the child process only. Each chunk task sleeps `TASK_DELAY` seconds before reading
its band (`bands.read_band`, which every executor calls through its module), and each object moved
while an append is published sleeps `PUBLISH_DELAY` seconds first (`overlay.move_local`,
`overlay.copy_object`). A delay of 0 leaves that seam as it is.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any

from cube_engine import bands, overlay
from cube_engine.cli import app


def _slowed(func: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    @functools.wraps(func)
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return func(*args, **kwargs)

    return slow


def main(argv: list[str]) -> None:
    task_delay, publish_delay, *args = argv
    if float(task_delay):
        bands.read_band = _slowed(bands.read_band, float(task_delay))
    if float(publish_delay):
        overlay.move_local = _slowed(overlay.move_local, float(publish_delay))
        overlay.copy_object = _slowed(overlay.copy_object, float(publish_delay))
    app(args, prog_name="cube-engine")


if __name__ == "__main__":
    main(sys.argv[1:])
