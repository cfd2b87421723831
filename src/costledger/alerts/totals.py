"""Per-period totals: today's and this month's cost, overall and per user, agent, tier,
mode and service, each kept in one row so that reading it is one primary-key lookup.

They are counted in the same transaction as the events (a Store.on_write hook), so an
alert check or a budget check costs the same at 100 events a day as at 10 million.
A repricing that moves events in or out of the rollups calls `add_to_period_totals`
with sign=-1 / +1 as it does for `add_to_rollups`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from ..store.alerts_schema import period_totals

# The dimensions a rule or a budget can be "per" (rollup column names).
DIMENSIONS = ("service", "agent", "user_id", "tier", "mode")
# How people name them in config and on the command line.
ALIASES = {"user": "user_id", "user_id": "user_id", "agent": "agent", "tier": "tier", "mode": "mode",
           "service": "service"}  # fmt: skip


def upsert(connection: Connection, table: Table) -> Any:
    """INSERT with ON CONFLICT for the connection's dialect."""
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)


def day_key(day: dt.date) -> str:
    return day.isoformat()


def month_key(day: dt.date) -> str:
    return day.isoformat()[:7]


@dataclass(frozen=True)
class Figures:
    events: int = 0
    unpriced: int = 0
    cost: int = 0  # nano-USD


Key = tuple[str, str, str]  # period, dimension ('' = all), value


def keys_of(row: Mapping[str, Any]) -> list[Key]:
    """Every total one event row counts into."""
    day: dt.date = row["day"]
    out: list[Key] = []
    for period in (day_key(day), month_key(day)):
        out.append((period, "", ""))
        out.extend((period, d, row[d]) for d in DIMENSIONS if row.get(d))
    return out


def add_to_period_totals(connection: Connection, rows: Sequence[Mapping[str, Any]], sign: int = 1) -> None:
    sums: dict[Key, list[int]] = {}
    for row in rows:
        cost = row["cost"]
        for key in keys_of(row):
            bucket = sums.get(key)
            if bucket is None:
                sums[key] = bucket = [0, 0, 0]
            bucket[0] += sign
            bucket[1] += sign if cost is None else 0
            bucket[2] += sign * (cost or 0)
    if not sums:
        return
    statement = upsert(connection, period_totals)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["period", "dimension", "value"],
        set_={
            "events": period_totals.c.events + excluded.events,
            "unpriced": period_totals.c.unpriced + excluded.unpriced,
            "cost": period_totals.c.cost + excluded.cost,
        },
    )
    # Sorted: concurrent PostgreSQL writers take row locks in one order and never deadlock.
    connection.execute(
        statement,
        [
            {"period": p, "dimension": d, "value": v, "events": e, "unpriced": u, "cost": c}
            for (p, d, v), (e, u, c) in sorted(sums.items())
        ],
    )


def read_totals(connection: Connection, keys: Iterable[Key]) -> dict[Key, Figures]:
    """The totals of `keys` (missing ones are zero), in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    c = period_totals.c
    if connection.dialect.name == "postgresql":
        condition: Any = tuple_(c.period, c.dimension, c.value).in_(wanted)
    else:
        condition = or_(*(and_(c.period == p, c.dimension == d, c.value == v) for p, d, v in wanted))
    found = {
        (r.period, r.dimension, r.value): Figures(int(r.events), int(r.unpriced), int(r.cost))
        for r in connection.execute(select(period_totals).where(condition))
    }
    return {key: found.get(key, Figures()) for key in wanted}
