"""Reading many rows as the driver returns them.

A read of tens or hundreds of thousands of rows (a consistency check; a range's sessions) spends
more time in SQLAlchemy's per-row result processing than in the database: these reads take the
driver's own tuples instead (a SQLite DateTime arrives as its text, a PostgreSQL one as a datetime;
no column here needs more).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Select


def fetch_raw(connection: Connection, query: Select[Any]) -> list[Any]:
    """The rows of `query` as the driver returns them (tuples, no type processing), inside the
    connection's transaction."""
    # render_postcompile: an IN list is written out (the driver knows no expanding parameters).
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positiontup is not None:  # SQLite's ? marks: the values in their order
        params = tuple(params[name] for name in compiled.positiontup)
    if connection.get_transaction() is None:
        connection.begin()  # the driver's cursor would run outside any transaction SQLAlchemy knows of
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def utc_time(value: str | dt.datetime) -> dt.datetime:
    """A DateTime column read raw (SQLite: its text, parsed in C; PostgreSQL: a naive datetime) as an aware UTC time."""
    if isinstance(value, str):
        # The offset parsed with the text: datetime.replace(tzinfo=…) took 5× as long as the parse.
        return dt.datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=dt.UTC)


__all__ = ["fetch_raw", "utc_time"]
