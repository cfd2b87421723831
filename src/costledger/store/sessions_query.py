"""Sessions: the listing (sort, filter, page) and one session's events.

A listing reads the sessions table, which the writer keeps in the same transaction as
the events; only filters the table cannot answer (service, agent, model, tags) look
further, through the session's breakdown or its events.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, literal, literal_column, select

from ..money import from_nanos, to_nanos
from .ranges import started_in, tag_is
from .schema import EMPTY, events, session_costs, sessions
from .session_starts import kept_counts, kept_modes
from .sums import by_cost, cost_at_least, cost_at_most, stored_sum
from .types import Filters, SessionSummary
from .usage_json import usage_from_json

SESSION_SORTS = ("started_at", "ended_at", "cost", "events", "duration")


def _duration(connection: Connection) -> ColumnElement[Any]:
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", sessions.c.ended_at - sessions.c.started_at)
    return func.julianday(sessions.c.ended_at) - func.julianday(sessions.c.started_at)


def session_conditions(connection: Connection, filters: Filters) -> list[ColumnElement[bool]]:
    """Filters on the sessions table. since/until select the day a session started."""
    conditions = started_in(filters)
    for column, value in filters.dims.items():
        if column in ("user_id", "tier", "mode", "session_id"):
            conditions.append(sessions.c[column] == value)
        elif column in ("service", "agent"):
            conditions.append(
                exists().where(session_costs.c.session_id == sessions.c.session_id, session_costs.c[column] == value)
            )
        else:  # model: only the events know it
            conditions.append(exists().where(events.c.session_id == sessions.c.session_id, events.c[column] == value))
    if filters.tags:
        tagged = [tag_is(connection, key, value) for key, value in filters.tags.items()]
        conditions.append(exists().where(events.c.session_id == sessions.c.session_id, *tagged))
    if filters.min_cost is not None:
        conditions.append(cost_at_least(sessions, to_nanos(filters.min_cost)))
    if filters.max_cost is not None:
        conditions.append(cost_at_most(sessions, to_nanos(filters.max_cost)))
    if filters.unpriced:
        # 0 written out: a plan made for any parameter values (PostgreSQL's generic plan) may use the
        # partial index ix_sessions_unpriced only if the query states its condition itself.
        conditions.append(sessions.c.unpriced > literal_column("0"))
    return conditions or [literal(True)]


def list_sessions(
    connection: Connection,
    filters: Filters = Filters(),
    sort: str = "started_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SessionSummary], int]:
    """One page of sessions and how many match in all.

    Each listed session carries its by_service and by_agent breakdown (one extra query
    for the whole page). Ties are ordered by session id, so pages never overlap.
    """
    if sort not in SESSION_SORTS:
        raise ValueError(f"cannot sort sessions by {sort!r}; choose from {', '.join(SESSION_SORTS)}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    conditions = session_conditions(connection, filters)
    if sort == "cost":
        keys = by_cost(sessions, descending)
    else:
        key = _duration(connection) if sort == "duration" else sessions.c[sort]
        keys = [key.desc() if descending else key.asc()]
    order = [*keys, sessions.c.session_id.desc() if descending else sessions.c.session_id.asc()]
    rows: Sequence[Any]
    if sort == "cost" and connection.dialect.name == "sqlite" and filters.by_start_and() and offset + limit <= _BY_MODE:
        rows = _by_cost(connection, conditions, order, descending, limit, offset)
    else:
        rows = connection.execute(
            select(sessions).where(*conditions).order_by(*order).limit(limit).offset(offset)
        ).all()
    count = listed_count(connection, filters, conditions)
    parts = _breakdowns(connection, [row.session_id for row in rows])
    return [_summary(row, *parts.get(row.session_id, ({}, {}))) for row in rows], int(count)


# The first pages only: each mode's walk reads offset + limit sessions, which past a few pages cost more
# than one ORDER BY's pass at 1M events (page 20 of 50: 28.6 against 11.2 ms; at 10M 41 against 92 ms).
_BY_MODE = 200


def _by_cost(
    connection: Connection,
    conditions: list[ColumnElement[bool]],
    order: list[Any],
    descending: bool,
    limit: int,
    offset: int,
) -> list[Any]:
    """A page of the listing by cost (SQLite): each mode's first offset + limit sessions in cost order, read
    from ix_sessions_mode_cost, and the sessions without events from ix_sessions_empty; the page is among
    them, ordered here as the database orders them (cost, then id: SQLite compares text by its bytes, which
    is Python's order of str). One ORDER BY over every session took a pass over all of them (10M: 865,492).
    For filters by no more than the start day, which the index holds: a filter by tier or user would look
    up each session of every mode's walk, and one by mode would walk the other modes to find none."""
    wanted = offset + limit
    walks: list[list[ColumnElement[bool]]] = [[EMPTY]]
    for mode in kept_modes(connection, Filters()) or {}:
        # A session of no mode is NULL, or '' where an event named it so.
        named = [sessions.c.mode.is_(None), sessions.c.mode == ""] if mode is None else [sessions.c.mode == mode]
        walks += [[which, sessions.c.events > 0] for which in named]
    rows: list[Any] = []
    for walk in walks:
        rows += connection.execute(select(sessions).where(*walk, *conditions).order_by(*order).limit(wanted)).all()
    rows.sort(key=lambda row: (row.cost_high, row.cost, row.session_id), reverse=descending)
    return rows[offset:wanted]


def listed_count(connection: Connection, filters: Filters, conditions: list[ColumnElement[bool]]) -> int:
    """How many sessions the listing's conditions select, those without events included. Where the kept
    counts answer (by no more than the day a session started, its tier and its mode), the sessions with
    events are counted there and the few without from ix_sessions_empty; else the sessions are counted."""
    kept = kept_counts(connection, filters)
    if kept is None:
        return int(connection.execute(select(func.count()).select_from(sessions).where(*conditions)).scalar_one())
    empty = connection.execute(select(func.count()).select_from(sessions).where(EMPTY, *conditions)).scalar_one()
    return sum(kept.values()) + int(empty)


def session_summary(connection: Connection, session_id: str) -> SessionSummary | None:
    """One session with its cost by service and by agent."""
    row = connection.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    if row is None:
        return None
    return _summary(row, *_breakdowns(connection, [session_id]).get(session_id, ({}, {})))


def _breakdowns(
    connection: Connection, session_ids: list[str]
) -> dict[str, tuple[dict[str, Decimal], dict[str, Decimal]]]:
    """session id → (cost by service, cost by agent); events without an agent count under ''."""
    out: dict[str, tuple[dict[str, Decimal], dict[str, Decimal]]] = {}
    if not session_ids:
        return out
    query = select(session_costs).where(session_costs.c.session_id.in_(session_ids))
    for part in connection.execute(query):
        by_service, by_agent = out.setdefault(part.session_id, ({}, {}))
        amount = from_nanos(stored_sum(part)) or Decimal(0)
        by_service[part.service] = by_service.get(part.service, Decimal(0)) + amount
        by_agent[part.agent] = by_agent.get(part.agent, Decimal(0)) + amount
    return out


def _summary(row: Any, by_service: dict[str, Decimal], by_agent: dict[str, Decimal]) -> SessionSummary:
    return SessionSummary(
        session_id=row.session_id,
        user_id=row.user_id,
        tier=row.tier,
        mode=row.mode,
        started_at=row.started_at.replace(tzinfo=dt.UTC),
        ended_at=row.ended_at.replace(tzinfo=dt.UTC),
        events=row.events,
        unpriced=row.unpriced,
        cost_usd=from_nanos(stored_sum(row)) or Decimal(0),
        by_service=by_service,
        by_agent=by_agent,
    )


def session_events(connection: Connection, session_id: str) -> list[dict[str, Any]]:
    """The session's events in time order: cost_usd a Decimal (None when unpriced), usage decoded."""
    query = select(events).where(events.c.session_id == session_id).order_by(events.c.ts, events.c.id)
    return [
        {
            "event_id": row.event_id,
            "ts": row.ts.replace(tzinfo=dt.UTC),
            "service": row.service,
            "model": row.model,
            "operation": row.operation,
            "agent": row.agent,
            "user_id": row.user_id,
            "tier": row.tier,
            "mode": row.mode,
            "endpoint": row.endpoint,
            "usage": usage_from_json(row.usage),
            "tags": json.loads(row.tags),
            "metadata": json.loads(row.meta),
            "cost_usd": from_nanos(row.cost),
            "cost_source": row.cost_source,
            "price_ref": row.price_ref,
            "unpriced_reason": row.unpriced_reason,
            "recorded_cost_usd": from_nanos(row.recorded_cost),
        }
        for row in connection.execute(query)
    ]
