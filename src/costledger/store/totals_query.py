"""Reading totals. Whatever the per-period aggregates can answer (period_reads.py: a grouping by
the time units and at most two dimensions, counting filters) is read from them, so its cost follows
the months and leftover days of the range times the distinct values in it; a grouping by session over
a range is read from the sessions table (session_groups.py); the rest (tags, several filters, a pair of
dimensions not kept together) is read from the daily rollups of the range; only a tag filter or a
per-session grouping with filters goes to the events themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Select, cast, func, literal, select

from .. import clock
from ..money import from_nanos
from . import session_groups
from .period_reads import period_totals_for
from .ranges import in_days, tag_is
from .schema import events, rollup_daily
from .sums import cost_sum, from_halves, table_sum
from .types import COLUMN, GROUPS, Filters, Total


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
    found = period_totals_for(connection, by, filters)
    if found is None and session_groups.answers(by, filters):
        found = session_groups.session_totals(connection, filters)
    if found is None:
        found = rollup_totals(connection, by, filters)
    # Ties in one order whichever source answered: by the groups' values, then most expensive first,
    # then (a timeline) in time order.
    if len(by) == 1:  # the usual grouping, and a row per session or user: no tuple built per row
        name = by[0]
        found.sort(key=lambda t: t.group[name] or "")
    else:
        found.sort(key=lambda t: tuple(t.group[n] or "" for n in by))
    found.sort(key=attrgetter("cost_usd"), reverse=True)
    timeline = [name for name in by if name in ("day", "week", "month")]
    if timeline:
        found.sort(key=lambda t: tuple(t.group[n] or "" for n in timeline))
    return found


def rollup_totals(connection: Connection, by: Sequence[str], filters: Filters = Filters()) -> list[Total]:
    """totals() from the daily rollups of the range (or the events, for tags and sessions), unsorted."""
    raw = bool(filters.tags) or "session" in by or "session_id" in filters.dims
    table = events if raw else rollup_daily
    if raw:
        count: ColumnElement[Any] = func.count()
        unpriced: ColumnElement[Any] = func.count() - func.count(events.c.cost)
        cost = cost_sum(events.c.cost)
    else:
        count = func.sum(rollup_daily.c.events)
        unpriced = func.sum(rollup_daily.c.unpriced)
        cost = table_sum(rollup_daily)
    keys = []
    for name in by:
        if name in ("day", "week", "month"):
            keys.append(_period(connection, table.c.day, name).label(name))
        else:
            keys.append(table.c[COLUMN.get(name, name)].label(name))
    query: Select[Any] = select(*keys, count.label("events"), unpriced.label("unpriced"), *cost)
    query = query.select_from(table).where(*_conditions(connection, table, filters))
    if keys:
        query = query.group_by(*keys)
    if not raw:
        query = query.having(func.sum(rollup_daily.c.events) != 0)
    # Read by position: a grouping by user, or by service and user, returns a row per pair (tens of
    # thousands), and reading a row by name (its mapping made for each) cost more than the rest of
    # its work. The groups, events, unpriced, then cost_sum's parts (dollars, nano-dollars, high).
    width = len(by)
    out = []
    for row in connection.execute(query):
        found = int(row[width] or 0)
        if found > 0:
            out.append(
                Total(
                    group=dict(zip(by, [value or None for value in row[:width]], strict=True)),
                    events=found,
                    unpriced=int(row[width + 1] or 0),
                    cost_usd=from_nanos(from_halves(*row[width + 2 :])) or Decimal(0),
                )
            )
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

    Read from the per-day aggregates when the filters allow (a row a day and value), else from the rollups.
    """
    return {t.group["day"] or "": t for t in totals(connection, ["day"], replace(filters, since=start, until=end))}


def top(connection: Connection, dimension: str, limit: int = 10, filters: Filters = Filters()) -> list[Total]:
    """The `limit` most expensive users, agents, models… (any of GROUPS but the time units).

    Events without that dimension (no user, no agent) are not a "top" anything and are left out.
    """
    if dimension in ("day", "week", "month"):
        raise ValueError(f"top {dimension} is a trend: use daily_trend or totals(by=[{dimension!r}])")
    ranked = [t for t in totals(connection, [dimension], filters) if t.group[dimension] is not None]
    return ranked[: max(limit, 0)]


def _conditions(connection: Connection, table: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = in_days(table, filters)
    for column, value in filters.dims.items():
        conditions.append(table.c[column] == value)
    for key, value in filters.tags.items():
        conditions.append(tag_is(connection, key, value))
    return conditions or [literal(True)]


__all__ = ["daily_trend", "days_totals", "rollup_totals", "top", "totals"]
