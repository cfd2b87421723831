"""Sessions listed by their whole cost: metered spend plus what the caller adds per mode (a session
type's extra cost) and per start day (a session's share of that day's fixed costs), in nano-dollars.

The listing sorts in the database by that sum, so a page of the most expensive sessions holds
the sessions that cost most in all, and `stream_sessions` hands out every session the filters
select, in the same order, a batch at a time (a CSV export of any size in constant memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, func, literal, select

from .schema import sessions
from .session_day import session_day
from .session_starts import kept_counts
from .sessions_query import _duration, _summary, session_conditions
from .types import Filters, SessionSummary

# What the listing sorts by: the session table's own columns, and the whole cost.
WHOLE_SORTS = ("started_at", "ended_at", "duration", "events", "unpriced", "metered", "total")
STREAM_BATCH = 500


def _added(mapping: Mapping[str, int], key: ColumnElement[Any]) -> ColumnElement[Any]:
    if not mapping:
        return literal(0)
    return case({value: amount for value, amount in sorted(mapping.items())}, value=key, else_=0)


def whole_nanos(connection: Connection, extra: Mapping[str, int], fixed: Mapping[str, int]) -> ColumnElement[Any]:
    """A session's whole cost in nano-dollars: its cost + extra[mode] + fixed[start day 'YYYY-MM-DD']."""
    return sessions.c.cost + _added(extra, sessions.c.mode) + _added(fixed, session_day(connection.dialect.name))


def _listing(
    connection: Connection,
    filters: Filters,
    sort: str,
    descending: bool,
    extra: Mapping[str, int],
    fixed: Mapping[str, int],
) -> Select[Any]:
    if sort not in WHOLE_SORTS:
        raise ValueError(f"cannot sort sessions by {sort!r}; choose from {', '.join(WHOLE_SORTS)}")
    keys: dict[str, ColumnElement[Any]] = {
        "duration": _duration(connection),
        "metered": sessions.c.cost,
        "total": whole_nanos(connection, extra, fixed),
    }
    key = keys[sort] if sort in keys else sessions.c[sort]
    order = [key.desc(), sessions.c.session_id.desc()] if descending else [key.asc(), sessions.c.session_id.asc()]
    return select(sessions).where(sessions.c.events > 0, *session_conditions(connection, filters)).order_by(*order)


def list_whole(
    connection: Connection,
    filters: Filters,
    sort: str = "started_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    *,
    extra: Mapping[str, int] | None = None,
    fixed: Mapping[str, int] | None = None,
) -> tuple[list[SessionSummary], int]:
    """One page of the sessions with events the filters select, and how many there are in all.

    The summaries carry no per-service breakdown (store.queries.session_summary has it).
    """
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    query = _listing(connection, filters, sort, descending, extra or {}, fixed or {})
    rows = connection.execute(query.limit(limit).offset(offset)).all()
    kept = kept_counts(connection, filters)  # kept per day, tier and mode when the filters allow
    if kept is not None:
        count = sum(kept.values())
    else:
        conditions = [sessions.c.events > 0, *session_conditions(connection, filters)]
        count = connection.execute(select(func.count()).select_from(sessions).where(*conditions)).scalar_one()
    return [_summary(row, {}, {}) for row in rows], int(count)


def stream_sessions(
    connection: Connection,
    filters: Filters,
    sort: str = "started_at",
    descending: bool = True,
    *,
    extra: Mapping[str, int] | None = None,
    fixed: Mapping[str, int] | None = None,
) -> Iterator[SessionSummary]:
    """Every session with events the filters select, in the listing's order, read a batch at a time."""
    query = _listing(connection, filters, sort, descending, extra or {}, fixed or {})
    result = connection.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
    for row in result:
        yield _summary(row, {}, {})


__all__ = ["WHOLE_SORTS", "list_whole", "stream_sessions", "whole_nanos"]
