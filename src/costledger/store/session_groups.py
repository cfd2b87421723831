"""Totals grouped by session (`totals(by=["session"])`, `GET /v1/costs?group_by=session`) from the
sessions table instead of a GROUP BY over every event of the range (1M events: 1.7 s for all time).

A session's row holds its events, unpriced events and cost (kept by the writer; `db check` recounts
them), and its span covers its events (started_at ≤ its first event, ended_at ≥ its last). So a
session whose span lies inside the range [since, until] (UTC days, inclusive) has every event in the
range, and its row is its total. Only a session whose span crosses an edge of the range (it started
before `since` and ended on or after it; or it started in the range and ended after `until`) may
have events outside it: those few are summed from their events in the range. The events of no
session (payments, batch jobs) are read from an index of their own.

Only the range may be given: a filter by a dimension or a tag is a property of events, not of
sessions (a session's events may name several users, agents or services), so those groupings stay
with the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, literal, select

from ..money import SPLIT, from_nanos
from .ranges import after_range, in_days, started_in
from .raw import fetch_raw
from .schema import NO_SESSION, events, sessions
from .sums import cost_sum, from_halves
from .types import Filters, Total

# Sessions whose events in the range are read per batch of ids (SQLite binds at most 32,766 values).
_BATCH = 10_000


def answers(by: Iterable[str], filters: Filters) -> bool:
    """True when `session_totals` can answer totals(by, filters): by session alone, and the range alone."""
    return list(by) == ["session"] and replace(filters, since=None, until=None) == Filters()


def session_totals(connection: Connection, filters: Filters) -> list[Total]:
    """Each session's events, unpriced events and cost in the filters' range (unsorted), and a row for the
    events of no session ("session": None) when there are any."""
    start = dt.datetime.combine(filters.since, dt.time()) if filters.since else None
    end = after_range(filters)
    s = sessions.c
    started = [s.events > 0, *started_in(filters)]
    counts: dict[str, tuple[int, int, int]] = {}
    crossing: list[str] = []
    # Whether it ends after the range, compared by the database (each side's own time type).
    crosses = s.ended_at >= end if end is not None else literal(False)
    query = select(s.session_id, s.events, s.unpriced, s.cost_high, s.cost, crosses).where(*started)
    for session_id, n, unpriced, high, low, ends_after in fetch_raw(connection, query):
        if ends_after:
            crossing.append(session_id)
        else:
            counts[session_id] = (int(n), int(unpriced), int(high) * SPLIT + int(low))
    if start is not None:
        crossing += [row[0] for row in fetch_raw(connection, running_into(start))]
    counts.update(_within(connection, crossing, filters))
    # A session named '' reads as no session, as the events' grouping (rollup_totals) has it.
    out = [Total(group={"session": session_id or None}, events=n, unpriced=unpriced,
                 cost_usd=from_nanos(nanos) or Decimal(0))
           for session_id, (n, unpriced, nanos) in counts.items() if n > 0]  # fmt: skip
    n, unpriced, nanos = _no_session(connection, filters)
    if n > 0:
        out.append(
            Total(group={"session": None}, events=n, unpriced=unpriced, cost_usd=from_nanos(nanos) or Decimal(0))
        )
    return out


def running_into(start: dt.datetime) -> Select[Any]:
    """The sessions that started before `start` and were still going at it, read from ix_sessions_ended
    alone (a session without events among them adds nothing)."""
    s = sessions.c
    return select(s.session_id).where(s.ended_at >= start, s.started_at < start)


def no_session(dialect: str, filters: Filters) -> Select[Any]:
    """The events, unpriced events and cost (halves: sums.cost_sum) of the events of no session in the
    filters' range, read from ix_events_no_session."""
    return select(*_counted()).where(NO_SESSION[dialect], *in_days(events, filters))


def _no_session(connection: Connection, filters: Filters) -> tuple[int, int, int]:
    ((n, unpriced, dollars, nanos),) = fetch_raw(connection, no_session(connection.dialect.name, filters))
    return int(n), int(unpriced or 0), from_halves(dollars, nanos)


def _counted() -> list[Any]:
    """Events, unpriced events and the cost's halves (sums.cost_sum) of the events a query selects."""
    return [func.count(), func.count() - func.count(events.c.cost), *cost_sum(events.c.cost)]


def _within(connection: Connection, ids: list[str], filters: Filters) -> dict[str, tuple[int, int, int]]:
    """The events, unpriced events and nano-dollars of these sessions' events in the filters' range."""
    e = events.c
    out: dict[str, tuple[int, int, int]] = {}
    for first in range(0, len(ids), _BATCH):
        batch = e.session_id.in_(ids[first : first + _BATCH])
        query = select(e.session_id, *_counted()).where(batch, *in_days(events, filters)).group_by(e.session_id)
        for session_id, n, unpriced, dollars, nanos in fetch_raw(connection, query):
            out[session_id] = (int(n), int(unpriced), from_halves(dollars, nanos))
    return out


__all__ = ["answers", "no_session", "running_into", "session_totals"]
