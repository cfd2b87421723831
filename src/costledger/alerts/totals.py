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

from sqlalchemy import Connection

# The dimensions a rule or a budget can be "per" (rollup column names).
DIMENSIONS = ("service", "agent", "user_id", "tier", "mode")
# How people name them in config and on the command line.
ALIASES = {"user": "user_id", "user_id": "user_id", "agent": "agent", "tier": "tier", "mode": "mode",
           "service": "service"}  # fmt: skip


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


def raw(connection: Connection, sql: str, params: Any = (), many: bool = False) -> list[tuple[Any, ...]]:
    """Run `sql` on the transaction's own DBAPI connection; placeholders are written `?`.

    The evaluation runs in every write transaction; SQLAlchemy's per-statement machinery
    cost more than the statements themselves (as the event writer found), so the few
    statements on this path go straight to the driver.
    """
    if connection.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
            return []
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


_UPSERT = (
    "INSERT INTO period_totals (period, dimension, value, events, unpriced, cost) VALUES {values} "
    "ON CONFLICT (period, dimension, value) DO UPDATE SET events = period_totals.events + excluded.events, "
    "unpriced = period_totals.unpriced + excluded.unpriced, cost = period_totals.cost + excluded.cost "
    "RETURNING period, dimension, value, events, unpriced, cost"
)


def add_to_period_totals(
    connection: Connection, rows: Sequence[Mapping[str, Any]], sign: int = 1
) -> dict[Key, Figures]:
    """Count `rows` into the period totals (sign=-1 takes them out); returns the touched totals as they now are,
    so evaluation reads none of them again."""
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
    out: dict[Key, Figures] = {}
    # Sorted: concurrent PostgreSQL writers take row locks in one order and never deadlock.
    params = [(p, d, v, e, u, c) for (p, d, v), (e, u, c) in sorted(sums.items())]
    for start in range(0, len(params), _CHUNK):
        chunk = params[start : start + _CHUNK]
        sql = _UPSERT.format(values=", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)))
        for r in raw(connection, sql, tuple(p for row in chunk for p in row)):
            out[(r[0], r[1], r[2])] = Figures(int(r[3]), int(r[4]), int(r[5]))
    return out


def read_totals(connection: Connection, keys: Iterable[Key]) -> dict[Key, Figures]:
    """The totals of `keys` (missing ones are zero), a query per hundred keys."""
    wanted = sorted(set(keys))
    found: dict[Key, Figures] = {}
    # One primary-key lookup per key (an OR of them makes SQLite scan the table), in chunks:
    # SQLite limits a compound SELECT to 500 terms.
    one = (
        "SELECT period, dimension, value, events, unpriced, cost FROM period_totals "
        "WHERE period = ? AND dimension = ? AND value = ?"
    )
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = raw(connection, " UNION ALL ".join([one] * len(chunk)), tuple(p for k in chunk for p in k))
        found.update({(r[0], r[1], r[2]): Figures(int(r[3]), int(r[4]), int(r[5])) for r in rows})
    return {key: found.get(key, Figures()) for key in wanted}


_CHUNK = 100
