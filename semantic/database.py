"""Connecting to PostgreSQL: one DSN form for users, one engine form for SQLAlchemy, one-line errors.

Users pass a libpq URI (`postgresql://user:pass@host:port/db`, the form `psql` and Ontop's docs use) or
set `DEEPCUBE_DSN`. SQLAlchemy needs the driver in the scheme (`postgresql+psycopg://`) to pick psycopg 3;
we add it here so no other module thinks about URL spellings. Connection failures are translated into a
`DatabaseError` that names the server and the user but never the password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from semantic.errors import DatabaseError

DSN_ENV = "DEEPCUBE_DSN"
PASSWORD_ENV = "DEEPCUBE_DB_PASSWORD"


def resolve_dsn(dsn: str | None) -> str:
    """The explicit DSN, else `$DEEPCUBE_DSN`; a missing DSN is a user error, not a crash."""
    value = dsn or os.environ.get(DSN_ENV)
    if not value:
        raise DatabaseError(
            f"no database given: pass --dsn postgresql://user:pass@host:port/db or set {DSN_ENV}"
        )
    return value


def sqlalchemy_url(dsn: str) -> URL:
    """libpq URI -> SQLAlchemy URL with the psycopg 3 driver; a password may also come from the env."""
    try:
        url = make_url(dsn)
    except Exception as exc:
        raise DatabaseError(
            f"invalid DSN {redact(dsn)!r}: expected postgresql://user:pass@host:port/db"
        ) from exc
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise DatabaseError(f"invalid DSN {redact(dsn)!r}: the scheme must be postgresql://")
    url = url.set(drivername="postgresql+psycopg")
    if url.password is None and os.environ.get(PASSWORD_ENV):
        url = url.set(password=os.environ[PASSWORD_ENV])
    return url


def redact(dsn: str) -> str:
    """The DSN with its password replaced by `***`, for messages and logs."""
    try:
        url = make_url(dsn)
    except Exception:
        return "<unparsable DSN>"
    return url.render_as_string(hide_password=True)


def describe(url: URL) -> str:
    """`user@host:port/db`: what a one-line error needs to name the server."""
    return f"{url.username}@{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def create_engine(dsn: str) -> Engine:
    """An engine without a pool: each command opens one connection and closes it."""
    return sa.create_engine(sqlalchemy_url(resolve_dsn(dsn)), poolclass=NullPool)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # libpq prefixes "connection failed: connection to server at ... failed:"; keep the reason.
    return lines[0] if lines else type(orig).__name__


@contextmanager
def connect(dsn: str | None) -> Iterator[Connection]:
    """A SQLAlchemy connection (psycopg 3 underneath) with connection errors made one-liners.

    The caller opens the transaction: `with connect(dsn) as conn, conn.begin(): ...`.
    """
    engine = create_engine(resolve_dsn(dsn))
    try:
        try:
            conn = engine.connect()
        except sa.exc.OperationalError as exc:
            raise DatabaseError(
                f"cannot connect to PostgreSQL as {describe(engine.url)}: {_first_line(exc)}"
            ) from exc
        try:
            yield conn
        except sa.exc.DBAPIError as exc:
            raise DatabaseError(f"database error on {describe(engine.url)}: {_first_line(exc)}") from exc
        finally:
            conn.close()
    finally:
        engine.dispose()
