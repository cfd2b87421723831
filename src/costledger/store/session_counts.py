"""How many sessions started each day, per mode or per user: what per-session extra costs and
the per-day share of fixed costs are counted from (costledger.total_cost).

Only sessions with at least one event count, as everywhere a session is counted. The
counts come from the sessions table, one grouped pass over the sessions the range and
filters select (ix_sessions_started bounds it by the range).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal_column, select

from .schema import sessions
from .sessions_query import session_conditions
from .types import Filters

# What the counts can be grouped by, beside the day.
COUNT_GROUPS = {"mode": sessions.c.mode, "user": sessions.c.user_id, "tier": sessions.c.tier}


def session_day(dialect: str) -> ColumnElement[Any]:
    """The UTC day a session started, as 'YYYY-MM-DD' on either backend."""
    if dialect == "postgresql":
        return func.to_char(sessions.c.started_at, literal_column("'YYYY-MM-DD'"))
    # SQLite keeps a DateTime as text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(sessions.c.started_at, literal_column("1"), literal_column("10"))


def session_counts(connection: Connection, filters: Filters, by: Sequence[str] = ()) -> dict[tuple[Any, ...], int]:
    """(day as a date, *values of `by`) → sessions with events started that day, among those the filters select.

    `by` names any of COUNT_GROUPS ("mode", "user", "tier"); since/until select the day a
    session started, as in the session listing.
    """
    unknown = [name for name in by if name not in COUNT_GROUPS]
    if unknown:
        raise ValueError(f"cannot count sessions by {unknown[0]!r}; choose from {', '.join(COUNT_GROUPS)}")
    day = session_day(connection.dialect.name).label("day")
    keys = [day, *(COUNT_GROUPS[name].label(name) for name in by)]
    query = (
        select(*keys, func.count().label("n"))
        .where(sessions.c.events > 0, *session_conditions(connection, filters))
        .group_by(*keys)
    )
    parsed: dict[str, dt.date] = {}  # a range has few days and many rows: each parsed once
    out: dict[tuple[Any, ...], int] = {}
    for row in connection.execute(query):
        started = parsed.get(row[0])
        if started is None:
            started = parsed[row[0]] = dt.date.fromisoformat(row[0])
        out[(started, *row[1:-1])] = int(row[-1])
    return out


__all__ = ["COUNT_GROUPS", "session_counts", "session_day"]
