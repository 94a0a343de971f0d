"""PostgreSQL settings for a database the semantic loader fills in bulk.

A whole-cube load creates its tables in the same transaction that fills and indexes them. With
`wal_level = minimal` PostgreSQL then writes those tables straight to their files (and syncs them at
commit) instead of copying every page into the write-ahead log as well: the COPY and the index builds
of a load write about half the bytes. Crash safety is unchanged; what the setting gives up is
streaming replication and point-in-time recovery, which a database rebuilt from its cubes by one
command does not need (it is backed up with `pg_dump`, or simply reloaded).

One definition, used by the embedded cluster (`semantic.local_postgis`) and by the platform's
PostGIS service, so what the bench measures is what the platform runs.
"""

from __future__ import annotations

BULK_LOAD_SETTINGS: dict[str, str] = {
    "wal_level": "minimal",
    "max_wal_senders": "0",  # required by wal_level = minimal
}


def server_flags(settings: dict[str, str]) -> list[str]:
    """`postgres` command-line flags (`-c name=value`) for these settings, in a stable order."""
    flags: list[str] = []
    for name, value in settings.items():
        flags += ["-c", f"{name}={value}"]
    return flags
