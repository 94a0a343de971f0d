"""A cube on object storage in the middle of an engine overwrite, made with the engine's own journal.

`half_written(uri, options)` takes the cube's writer lock, begins a rollback-journal transaction over
every key (what `cube-engine gen` does before it overwrites a cube in place) and then writes one
chunk of `t2m` with another chunk's bytes: from here on, the cube's objects are a mix of old and new.
Leaving the block rolls the transaction back, as a writer that fails does.

Run as a module (`python -m tests.semantic.half_written URI OPTIONS_JSON`), it does the same and is
then killed by SIGKILL inside the block: the lock names a dead process, the journal stays active.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator

from cube_engine.journal import Action, Entry, Transaction, existing_keys, object_path, remote_lock

REWRITTEN = "t2m/0.0.0"  # the chunk the interrupted writer has already replaced
REWRITTEN_WITH = "t2m/0.1.0"  # ... with the bytes of this one (same shape, other values)


@contextlib.contextmanager
def half_written(uri: str, options: dict) -> Iterator[Transaction]:
    with remote_lock(uri, options):
        txn = Transaction(uri, options, "gen")
        keys = existing_keys(txn.fs, uri)
        txn.begin([Entry(Action.REPLACE, key) for key in keys])
        base = object_path(uri)
        txn.fs.pipe_file(f"{base}/{REWRITTEN}", txn.fs.cat_file(f"{base}/{REWRITTEN_WITH}"))
        try:
            yield txn
        finally:
            txn.rollback()


if __name__ == "__main__":
    with half_written(sys.argv[1], json.loads(sys.argv[2])):
        os.kill(os.getpid(), signal.SIGKILL)
