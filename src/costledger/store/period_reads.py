"""Totals over a date range from the per-period aggregates (period_groups.py), not the rollups.

A range is cut into whole months (one month row per value) and the days left over (a day row per
value); a month mostly covered is read as the month less its missing days, so a 30-day window
ending today is one month row set and two or three day row sets, whatever the traffic. The rows read
grow with the months and leftover days of the range times the distinct values in it.

They answer any grouping by the time units and at most two dimensions, counting filters: one
dimension from the period totals, two that form a kept pair (period_groups.PAIRS) from the pair
totals. Tags, sessions, several filters or a pair that is not kept go to the rollups (or the events),
whose reads the range bounds too.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from ..money import SPLIT, from_nanos
from .alerts_schema import period_totals
from .period_groups import add_into, pair_name, pair_of
from .schema import period_pairs
from .types import COLUMN, Filters, Total

TIME_UNITS = ("day", "week", "month")
_CHUNK = 400  # periods per statement: SQLite's limit on bound parameters is far above
_MAX_MONTHS = 240  # a range longer than this (after clamping to the ledger's days) reads the rollups


def source(by: Sequence[str], filters: Filters) -> tuple[str, tuple[str, ...]] | None:
    """("totals", (dimension,)) | ("totals", ()) | ("pairs", pair) the aggregates answer from, or None."""
    if filters.tags or "session" in by or "session_id" in filters.dims:
        return None
    if any(value == "" for value in filters.dims.values()):  # '' is "none" in the aggregates' keys
        return None
    columns = {COLUMN.get(name, name) for name in by if name not in TIME_UNITS} | set(filters.dims)
    if len(columns) <= 1:
        return "totals", tuple(columns)
    if len(columns) == 2:
        pair = pair_of(columns)
        if pair is not None:
            return "pairs", pair
    return None


def ledger_days(connection: Connection) -> tuple[dt.date, dt.date] | None:
    """The first and last day with events, or None for an empty ledger: three key lookups.

    Period keys sort a month ('2026-11') before its days ('2026-11-01' …) and those before the next
    month: the smallest key is the first month, the smallest key after it that month's first day
    with events, and the largest key the last day with events.
    """
    c = period_totals.c
    first_month = connection.execute(select(func.min(c.period))).scalar()
    if first_month is None:
        return None
    first = connection.execute(select(func.min(c.period)).where(c.period > first_month)).scalar()
    last = connection.execute(select(func.max(c.period))).scalar()
    if first is None or last is None or len(first) != 10 or len(last) != 10:
        return None
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


def _days(since: dt.date, until: dt.date) -> Iterator[dt.date]:
    for n in range((until - since).days + 1):
        yield since + dt.timedelta(days=n)


def pieces(since: dt.date, until: dt.date, first: dt.date, last: dt.date, daily: bool) -> list[tuple[str, int]]:
    """The periods (with a sign: +1 add, -1 take out) whose rows sum to the range [since, until],
    given that events lie only on the days [first, last]. `daily`: days only (a by-day or by-week read).
    """
    since, until = max(since, first), min(until, last)
    if since > until:
        return []
    if daily:
        return [(day.isoformat(), 1) for day in _days(since, until)]
    out: list[tuple[str, int]] = []
    month = since.replace(day=1)
    while month <= until:
        end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        start, stop = max(since, month), min(until, end)
        # The month's days outside the range that may hold events.
        outside = [d for d in _days(max(month, first), min(end, last)) if not start <= d <= stop]
        inside = (stop - start).days + 1
        if not outside:
            out.append((month.isoformat()[:7], 1))
        elif len(outside) + 1 < inside:
            out.append((month.isoformat()[:7], 1))
            out.extend((day.isoformat(), -1) for day in outside)
        else:
            out.extend((day.isoformat(), 1) for day in _days(start, stop))
        if end >= until:
            break
        month = end + dt.timedelta(days=1)
    return out


def _labels(period: str) -> dict[str, str]:
    """The time units' labels of a period's row: a day row has all three, a month row its month."""
    if len(period) == 7:
        return {"month": period}
    day = dt.date.fromisoformat(period)
    monday = day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday, named by it
    return {"day": period, "week": monday.isoformat(), "month": period[:7]}


def _rows(connection: Connection, kind: str, key: tuple[str, ...], periods: list[str],
          filters: Filters) -> Iterator[tuple[Any, ...]]:  # fmt: skip
    """(period, value of each column of `key` (None = none), events, unpriced, cost_high, cost) of the
    aggregate rows of `periods`."""
    for start in range(0, len(periods), _CHUNK):
        chunk = periods[start : start + _CHUNK]
        if kind == "pairs":
            p = period_pairs.c
            a, b = key
            query = select(p.period, p.a, p.b, p.events, p.unpriced, p.cost_high, p.cost).where(
                p.pair == pair_name((a, b)), p.period.in_(chunk)
            )
            if a in filters.dims:
                query = query.where(p.a == filters.dims[a])
            if b in filters.dims:
                query = query.where(p.b == filters.dims[b])
            for period, x, y, *counts in connection.execute(query):
                yield period, (x or None, y or None), *counts
            continue
        t = period_totals.c
        query = select(t.period, t.dimension, t.value, t.events, t.unpriced, t.cost_high, t.cost).where(
            t.period.in_(chunk)
        )
        if not key:
            query = query.where(t.dimension == "")
        elif key[0] in filters.dims:
            query = query.where(t.dimension == key[0], t.value == filters.dims[key[0]])
        else:
            # A dimension's "none" is not kept: it is the overall row less every value's.
            query = query.where(t.dimension.in_(["", key[0]]))
        for period, dimension, value, *counts in connection.execute(query):
            yield period, ((value if dimension else None),) if key else (), *counts


def period_totals_for(connection: Connection, by: Sequence[str], filters: Filters) -> list[Total] | None:
    """totals(by, filters) from the aggregates (unsorted), or None when they cannot answer it."""
    found = source(by, filters)
    if found is None:
        return None
    kind, key = found
    span = ledger_days(connection)
    if span is None:
        return []
    since, until = max(filters.since or span[0], span[0]), min(filters.until or span[1], span[1])
    if (until.year - since.year) * 12 + until.month - since.month >= _MAX_MONTHS:
        # Events decades apart (a date at the calendar's edge): the rollups of the range are fewer rows.
        return None
    times = [name for name in by if name in TIME_UNITS]
    daily = "day" in times or "week" in times
    parts = pieces(since, until, *span, daily)
    if not times and len(parts) <= _CHUNK:
        return _summed(connection, by, kind, key, parts, filters)
    signs = dict(parts)
    labels: dict[str, dict[str, str]] = {}
    # Each group part: a time unit's label, or the value of a column of `key`.
    where = [(name, None) if name in TIME_UNITS else (None, key.index(COLUMN.get(name, name))) for name in by]
    none_side = kind == "totals" and bool(key) and key[0] not in filters.dims
    sums: dict[tuple[Any, ...], list[int]] = {}
    for period, values, events, unpriced, high, low in _rows(connection, kind, key, [p for p, _ in parts], filters):
        sign = signs[period]
        named = labels.get(period)
        if named is None:
            named = labels[period] = _labels(period)
        counts = (sign * int(events), sign * int(unpriced), sign * (int(high) * SPLIT + int(low)))
        add_into(sums, tuple(named[unit] if unit else values[at] for unit, at in where), counts)
        if none_side and values[0] is not None:
            # Taken out of the dimension's "none", which started as the overall row.
            nothing = tuple(named[unit] if unit else None for unit, _at in where)
            add_into(sums, nothing, (-counts[0], -counts[1], -counts[2]))
    return [
        Total(group=dict(zip(by, group, strict=True)), events=events, unpriced=unpriced,
              cost_usd=from_nanos(cost) or Decimal(0))
        for group, (events, unpriced, cost) in sums.items()
        if events > 0
    ]  # fmt: skip


def _summed(connection: Connection, by: Sequence[str], kind: str, key: tuple[str, ...], parts: list[tuple[str, int]],
            filters: Filters) -> list[Total]:  # fmt: skip
    """period_totals_for without time units: the signed sums per value done in the database, one row
    per value (what a page of thousands of users reads over a few months and days)."""
    table = period_pairs if kind == "pairs" else period_totals
    c = table.c
    less = [period for period, sign in parts if sign < 0]

    def signed(column: Any) -> Any:
        return column if not less else case((c.period.in_(less), -column), else_=column)

    sums = [func.sum(signed(c.events)), func.sum(signed(c.unpriced)), func.sum(signed(c.cost_high)),
            *(func.sum(signed(part)) for part in (c.cost // _DOLLAR, c.cost % _DOLLAR))]  # fmt: skip
    conditions: list[ColumnElement[bool]] = [c.period.in_([period for period, _ in parts])]
    if kind == "pairs":
        columns = [c.a, c.b]
        conditions.append(c.pair == pair_name((key[0], key[1])))
        conditions.extend(column == filters.dims[name] for column, name in zip(columns, key, strict=True)
                          if name in filters.dims)  # fmt: skip
    elif not key:
        columns = []
        conditions.append(c.dimension == "")
    elif key[0] in filters.dims:
        columns = [c.value]
        conditions.extend([c.dimension == key[0], c.value == filters.dims[key[0]]])
    else:
        # A dimension's "none" is not kept: it is the overall row ('' dimension) less every value's.
        columns = [c.dimension, c.value]
        conditions.append(c.dimension.in_(["", key[0]]))
    query = select(*columns, *sums).where(*conditions)
    if columns:
        query = query.group_by(*columns)
    found: dict[tuple[Any, ...], list[int]] = {}
    none_side = kind == "totals" and bool(key) and key[0] not in filters.dims
    width = len(columns)
    for row in connection.execute(query):
        events, unpriced, high, dollars, nanos = (int(v or 0) for v in row[width:])
        counts = [events, unpriced, high * SPLIT + dollars * _DOLLAR + nanos]
        if none_side:
            dimension, value = row[0], row[1]
            values: tuple[Any, ...] = (value if dimension else None,)
            if dimension:
                add_into(found, (None,), [-n for n in counts])
        else:
            values = tuple(v or None for v in row[:width])
        add_into(found, values, counts)
    where = [key.index(COLUMN.get(name, name)) for name in by]
    out = []
    for values, (events, unpriced, cost) in found.items():
        if events > 0:
            group = {name: values[at] for name, at in zip(by, where, strict=True)}
            out.append(Total(group=group, events=events, unpriced=unpriced, cost_usd=from_nanos(cost) or Decimal(0)))
    return out


_DOLLAR = 10**9  # money sums in two halves, as store/sums.py does: no SUM passes 2^63


__all__ = ["TIME_UNITS", "ledger_days", "period_totals_for", "pieces", "source"]
