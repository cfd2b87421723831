"""Reading the per-period totals (one row per day or month × one dimension value).

rollup_daily is keyed by all six dimensions at once: a council of fifteen agents makes
about one rollup row per two events, so a month of it grows with the traffic. The
period totals (kept with the events by Store.write, see period_groups.py) hold a
day's or a month's total overall and per service, model, agent, user, tier and mode
in single rows: what the dashboard's first page and the daily
trend read when no other filter applies, at a cost that does not grow with events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ..money import from_nanos
from .alerts_schema import period_totals
from .period_groups import KEPT
from .sums import by_cost, stored_sum
from .types import Filters, Total

# The dimensions the period totals are kept per ('' = everything).
PERIOD_DIMENSIONS = KEPT


def period_scope(filters: Filters) -> tuple[str, str] | None:
    """(dimension, value) the period totals can answer these filters with, or None.

    Dates are not looked at: the callers choose the periods. Tags and several
    dimensions at once are only in the rollups and the events.
    """
    if filters.tags or len(filters.dims) > 1:
        return None
    if not filters.dims:
        return "", ""
    ((column, value),) = filters.dims.items()
    return (column, value) if column in PERIOD_DIMENSIONS else None


def _total(name: str, key: str | None, row: Any) -> Total:
    return Total(group={name: key}, events=int(row.events), unpriced=int(row.unpriced),
                 cost_usd=from_nanos(stored_sum(row)) or Decimal(0))  # fmt: skip


def period_figures(connection: Connection, periods: Sequence[str], scope: tuple[str, str]) -> dict[str, Total]:
    """period ('2026-11-23' or '2026-11') → its Total, for the periods that have events."""
    dimension, value = scope
    c = period_totals.c
    query = select(c.period, c.events, c.unpriced, c.cost_high, c.cost).where(
        c.period.in_(sorted(set(periods))), c.dimension == dimension, c.value == value
    )
    rows = connection.execute(query)
    return {row.period: _total("period", row.period, row) for row in rows}


def period_breakdowns(connection: Connection, period: str, limits: Mapping[str, int | None]) -> dict[str, list[Total]]:
    """One period's totals per value of each dimension in `limits` (its top N, or all for None),
    most expensive first, as Totals grouped by the dimension: one query for them all.
    """
    c = period_totals.c
    rank = func.row_number().over(partition_by=c.dimension, order_by=(*by_cost(period_totals, True), c.value))
    ranked = (
        select(c.dimension, c.value, c.events, c.unpriced, c.cost_high, c.cost, rank.label("rank"))
        .where(c.period == period, c.dimension.in_(sorted(limits)), c.events != 0)
        .subquery()
    )
    wanted = [
        ranked.c.dimension == dimension
        if limit is None
        else and_(ranked.c.dimension == dimension, ranked.c.rank <= limit)
        for dimension, limit in limits.items()
    ]
    out: dict[str, list[Total]] = {dimension: [] for dimension in limits}
    query = select(ranked).where(or_(*wanted)).order_by(ranked.c.dimension, ranked.c.rank)
    for row in connection.execute(query):
        out[row.dimension].append(_total(row.dimension, row.value, row))
    return out
