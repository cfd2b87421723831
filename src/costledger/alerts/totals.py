"""Per-period totals: today's and this month's cost, overall and per user, agent, tier,
mode and service, each kept in one row so that reading it is one primary-key lookup.

They are counted in the same transaction as the events (a Store.on_write hook), so an
alert check or a budget check costs the same at 100 events a day as at 10 million.
They are summed from the rollup buckets the writer counts (add_to_rollups returns them),
so a repricing that moves events in or out of the rollups moves them here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..money import join
from ..store.alerts_schema import period_totals
from ..store.schema import DIMENSIONS as ROLLUP_DIMENSIONS
from ..store.writer import add_counts

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


# Where each period dimension sits in a rollup bucket's key (day, *store DIMENSIONS).
_AT = tuple((d, 1 + ROLLUP_DIMENSIONS.index(d)) for d in DIMENSIONS)


def _add(into: dict[Any, list[int]], key: Any, counts: Sequence[int]) -> None:
    found = into.get(key)
    if found is None:
        into[key] = list(counts)
    else:
        found[0] += counts[0]
        found[1] += counts[1]
        found[2] += counts[2]


def period_sums(buckets: Mapping[tuple[Any, ...], Sequence[int]]) -> dict[Key, list[int]]:
    """The period totals that rollup buckets (add_to_rollups' signed counts) add up to, as keys_of counts rows.

    Summed per day first and then per month from the days: a batch has far fewer buckets than
    events, and far fewer day totals than buckets.
    """
    days: dict[tuple[Any, str, Any], list[int]] = {}
    for key, counts in buckets.items():
        day = key[0]
        _add(days, (day, "", ""), counts)
        for dimension, at in _AT:
            if key[at]:
                _add(days, (day, dimension, key[at]), counts)
    sums: dict[Key, list[int]] = {}
    for (day, dimension, value), counts in days.items():
        _add(sums, (day_key(day), dimension, value), counts)
        _add(sums, (month_key(day), dimension, value), counts)
    return sums


def add_to_period_totals(connection: Connection, buckets: Mapping[tuple[Any, ...], Sequence[int]]) -> set[Key]:
    """Count rollup buckets (add_to_rollups' return, signed) into the period totals; returns the keys it touched.

    Written as the rollups are (one statement over the batch), without reading them back: most
    batches have no rule that reads them.
    """
    sums = period_sums(buckets)
    # Sorted: concurrent PostgreSQL writers take row locks in one order and never deadlock.
    rows = [(*key, *counts) for key, counts in sorted(sums.items())]
    add_counts(connection, period_totals, ("period", "dimension", "value"), rows)
    return set(sums)


def read_totals(connection: Connection, keys: Iterable[Key]) -> dict[Key, Figures]:
    """The totals of `keys` (missing ones are zero), a query per hundred keys."""
    wanted = sorted(set(keys))
    found: dict[Key, Figures] = {}
    # One primary-key lookup per key (an OR of them makes SQLite scan the table), in chunks:
    # SQLite limits a compound SELECT to 500 terms.
    one = (
        "SELECT period, dimension, value, events, unpriced, cost_high, cost FROM period_totals "
        "WHERE period = ? AND dimension = ? AND value = ?"
    )
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = raw(connection, " UNION ALL ".join([one] * len(chunk)), tuple(p for k in chunk for p in k))
        found.update({(r[0], r[1], r[2]): Figures(int(r[3]), int(r[4]), join(r[5], r[6])) for r in rows})
    return {key: found.get(key, Figures()) for key in wanted}


_CHUNK = 100
