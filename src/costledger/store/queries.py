"""Reading totals. Dashboards and alerts read the rollups, so their cost follows the
number of days × dimension values, not the number of events; only a tag filter or a
per-session grouping goes to the events themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Select, cast, func, literal, select

from .. import clock
from ..money import from_nanos, usd
from .schema import events, rollup_daily

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
    # A session's total, inclusive; only session listings use these (a day total has no session cost).
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None

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


def daily_trend(
    connection: Connection, days: int = 30, filters: Filters = Filters(), today: dt.date | None = None
) -> list[Total]:
    """One Total per UTC day of the `days` ending `today`, oldest first, days without events as zeros.

    The window replaces the filters' since/until: a chart's x axis is always the same `days` days.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    end = today or clock.today()
    start = end - dt.timedelta(days=days - 1)
    found = days_totals(connection, start, end, filters)
    out = []
    for offset in range(days):
        day = (start + dt.timedelta(days=offset)).isoformat()
        out.append(found.get(day) or Total(group={"day": day}, events=0, unpriced=0, cost_usd=Decimal(0)))
    return out


def days_totals(connection: Connection, start: dt.date, end: dt.date, filters: Filters) -> dict[str, Total]:
    """'YYYY-MM-DD' → that day's Total (grouped by "day"), for the days from start to end that have events.

    Read from the per-day period totals when the filters allow (one row a day), else from the rollups.
    """
    from .periods import period_figures, period_scope

    scope = period_scope(filters)
    if scope is None:
        return {t.group["day"] or "": t for t in totals(connection, ["day"], replace(filters, since=start, until=end))}
    days = [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    return {day: replace(t, group={"day": day}) for day, t in period_figures(connection, days, scope).items()}


def top(connection: Connection, dimension: str, limit: int = 10, filters: Filters = Filters()) -> list[Total]:
    """The `limit` most expensive users, agents, models… (any of GROUPS but the time units).

    Events without that dimension (no user, no agent) are not a "top" anything and are left out.
    """
    if dimension in ("day", "week", "month"):
        raise ValueError(f"top {dimension} is a trend: use daily_trend or totals(by=[{dimension!r}])")
    ranked = [t for t in totals(connection, [dimension], filters) if t.group[dimension] is not None]
    return ranked[: max(limit, 0)]


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
        from sqlalchemy.dialects.postgresql import JSONB

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times in RFC 3339, money as decimal strings."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "tier": self.tier,
            "mode": self.mode,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "ended_at": self.ended_at.isoformat().replace("+00:00", "Z"),
            "duration_seconds": self.duration_seconds,
            "events": self.events,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
            "by_service": {k: usd(v) for k, v in sorted(self.by_service.items())},
            "by_agent": {k: usd(v) for k, v in sorted(self.by_agent.items())},
        }


# The session listing and the overview live in modules of their own; they are re-exported
# here so that the query layer is one import.
from .overview import (  # noqa: E402
    MonthToDate,
    Overview,
    ServiceShare,
    TierCost,
    month_to_date,
    overview,
)
from .session_modes import ModeCost, session_costs_by_mode  # noqa: E402
from .sessions_query import SESSION_SORTS, list_sessions, session_events, session_summary  # noqa: E402

__all__ = [
    "FILTERS",
    "GROUPS",
    "SESSION_SORTS",
    "Filters",
    "ModeCost",
    "MonthToDate",
    "Overview",
    "ServiceShare",
    "SessionSummary",
    "TierCost",
    "Total",
    "daily_trend",
    "list_sessions",
    "month_to_date",
    "overview",
    "session_costs_by_mode",
    "session_events",
    "session_summary",
    "top",
    "totals",
]
