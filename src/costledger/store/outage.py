"""Telling an outage of the storage from a bug: which database errors mean "cannot answer now".

PostgreSQL down or restarting, a full disk, a database locked for longer than the busy timeout, a
pool with no connection to give: none is the request's fault, and each passes. The server answers
those 503 with Retry-After and this reason, the CLI one line, `/healthz` not ready; anything else
stays a bug (a 500 with its traceback in the log).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes of PostgreSQL that are the server's state, not the statement's.
_PG_CLASSES = {
    "08": "the database connection failed",
    "53": "the database is out of resources",
    "57": "the database is shutting down or starting",
    "58": "the database had an I/O error",
}
_PG_CODES = {
    "53100": "the database's disk is full",
    "53300": "the database has too many connections",
    "40001": "the database kept aborting the transaction",
    "40P01": "the database kept deadlocking",
}
# SQLite's messages for the same.
_SQLITE = {
    "database or disk is full": "the disk is full",
    "disk i/o error": "the disk failed to write",
    "unable to open database file": "the database file cannot be opened",
    "attempt to write a readonly database": "the database is read-only",
    "database is locked": "the database stayed locked by another writer",
    "readonly database": "the database is read-only",
}

RETRY_AFTER_SECONDS = 5


def outage(exc: BaseException) -> str | None:
    """Why the storage cannot answer now, when `exc` says so; None for any other error."""
    if isinstance(exc, PoolTimeout):
        return "no database connection is free"
    if not isinstance(exc, SQLAlchemyError | OSError):
        return None
    if isinstance(exc, OSError):  # a full disk met outside the database (the dashboard's secret file, say)
        return f"the disk cannot be written ({exc.strerror})" if exc.errno in (28, 30, 122, 5) else None
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None)
    if isinstance(code, str):
        return _PG_CODES.get(code) or _PG_CLASSES.get(code[:2])
    if exc.connection_invalidated:
        return "the database connection was lost"
    if isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("psycopg"):
        # psycopg's errors before a session exists (refused, reset, timed out) carry no SQLSTATE.
        return "the database cannot be reached"
    text = str(exc.orig).lower()
    return next((why for message, why in _SQLITE.items() if message in text), None)


__all__ = ["RETRY_AFTER_SECONDS", "outage"]
