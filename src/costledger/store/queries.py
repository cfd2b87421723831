"""Reading totals. Dashboards and alerts read the rollups, so their cost follows the
number of days × dimension values, not the number of events; only a tag filter or a
per-session grouping goes to the events themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Select, and_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from ..money import from_nanos
from .schema import events, rollup_daily, session_costs, sessions

# What a report can group by, in the user's words → the column it reads.
GROUPS = ("service", "model", "agent", "user", "tier", "mode", "session", "day", "week", "month")
_COLUMN = {"user": "user_id", "session": "session_id"}
FILTERS = ("service", "model", "agent", "user_id", "tier", "mode", "session_id")


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None  # inclusive, UTC day
    until: dt.date | None = None  # inclusive, UTC day
    dims: Mapping[str, str] = field(default_factory=dict)  # column → value (FILTERS)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.dims) - set(FILTERS)
        if unknown:
            raise ValueError(f"cannot filter by {sorted(unknown)[0]!r}; filters are {', '.join(FILTERS)}")


@dataclass(frozen=True)
class Total:
    group: dict[str, str | None]
    events: int
    unpriced: int
    cost_usd: Decimal

    def as_dict(self) -> dict[str, Any]:
        from ..money import usd

        return {
            **self.group,
            "events": self.events,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
        }


def _period(connection: Connection, day: Any, unit: str) -> ColumnElement[Any]:
    postgres = connection.dialect.name == "postgresql"
    if unit == "day":
        return func.to_char(day, "YYYY-MM-DD") if postgres else func.strftime("%Y-%m-%d", day)
    if unit == "month":
        return func.to_char(day, "YYYY-MM") if postgres else func.strftime("%Y-%m", day)
    # ISO weeks start on Monday; a week is named by its Monday.
    if postgres:
        return func.to_char(cast(func.date_trunc("week", day), Date), "YYYY-MM-DD")
    return func.date(day, "-6 days", "weekday 1")


def totals(connection: Connection, by: Sequence[str], filters: Filters = Filters()) -> list[Total]:
    """Cost, events and unpriced events grouped by `by` (any of GROUPS), most expensive first."""
    for name in by:
        if name not in GROUPS:
            raise ValueError(f"cannot group by {name!r}; choose from {', '.join(GROUPS)}")
    raw = bool(filters.tags) or "session" in by or "session_id" in filters.dims
    table = events if raw else rollup_daily
    if raw:
        count: ColumnElement[Any] = func.count()
        unpriced: ColumnElement[Any] = func.count() - func.count(events.c.cost)
        cost: ColumnElement[Any] = func.coalesce(func.sum(events.c.cost), 0)
    else:
        count = func.sum(rollup_daily.c.events)
        unpriced = func.sum(rollup_daily.c.unpriced)
        cost = func.coalesce(func.sum(rollup_daily.c.cost), 0)
    keys = []
    for name in by:
        if name in ("day", "week", "month"):
            keys.append(_period(connection, table.c.day, name).label(name))
        else:
            keys.append(table.c[_COLUMN.get(name, name)].label(name))
    query: Select[Any] = select(*keys, count.label("events"), unpriced.label("unpriced"), cost.label("cost"))
    query = query.select_from(table).where(*_conditions(connection, table, filters))
    if keys:
        query = query.group_by(*keys)
    if not raw:
        query = query.having(func.sum(rollup_daily.c.events) != 0)
    rows = connection.execute(query).all()
    out = [
        Total(
            group={name: (getattr(row, name) or None) for name in by},
            events=int(row.events or 0),
            unpriced=int(row.unpriced or 0),
            cost_usd=from_nanos(int(row.cost)) or Decimal(0),
        )
        for row in rows
        if (row.events or 0) > 0
    ]
    timeline = [name for name in by if name in ("day", "week", "month")]
    if timeline:
        out.sort(key=lambda t: tuple(t.group[n] or "" for n in timeline))
    else:
        out.sort(key=lambda t: t.cost_usd, reverse=True)
    return out


def _conditions(connection: Connection, table: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.since:
        conditions.append(table.c.day >= filters.since)
    if filters.until:
        conditions.append(table.c.day <= filters.until)
    for column, value in filters.dims.items():
        conditions.append(table.c[column] == value)
    for key, value in filters.tags.items():
        conditions.append(_tag(connection, key) == value)
    return conditions or [literal(True)]


def _tag(connection: Connection, key: str) -> ColumnElement[Any]:
    """One tag's value out of the events' JSON text, on either backend."""
    if connection.dialect.name == "postgresql":
        return func.jsonb_extract_path_text(cast(events.c.tags, JSONB), key)
    return func.json_extract(events.c.tags, '$."' + key.replace('"', '""') + '"')


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    user_id: str | None
    tier: str | None
    mode: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    events: int
    unpriced: int
    cost_usd: Decimal
    by_service: dict[str, Decimal]
    by_agent: dict[str, Decimal]

    @property
    def duration_seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def session_summary(connection: Connection, session_id: str) -> SessionSummary | None:
    row = connection.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    if row is None:
        return None
    parts = connection.execute(
        select(session_costs.c.service, session_costs.c.agent, session_costs.c.cost).where(
            and_(session_costs.c.session_id == session_id)
        )
    ).all()
    by_service: dict[str, Decimal] = {}
    by_agent: dict[str, Decimal] = {}
    for part in parts:
        amount = from_nanos(part.cost) or Decimal(0)
        by_service[part.service] = by_service.get(part.service, Decimal(0)) + amount
        by_agent[part.agent or ""] = by_agent.get(part.agent or "", Decimal(0)) + amount
    return SessionSummary(
        session_id=row.session_id,
        user_id=row.user_id,
        tier=row.tier,
        mode=row.mode,
        started_at=row.started_at.replace(tzinfo=dt.UTC),
        ended_at=row.ended_at.replace(tzinfo=dt.UTC),
        events=row.events,
        unpriced=row.unpriced,
        cost_usd=from_nanos(row.cost) or Decimal(0),
        by_service=by_service,
        by_agent=by_agent,
    )
