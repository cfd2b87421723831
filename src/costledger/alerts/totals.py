"""Per-period totals: today's and this month's cost, overall and per user, agent, tier,
mode and service, each kept in one row so that reading it is one primary-key lookup.

They are counted in the same transaction as the events (Store.write, store/period_groups.py),
so an alert check or a budget check costs the same at 100 events a day as at 10 million.
They are summed from the rollup buckets the writer counts (add_to_rollups returns them),
so a repricing that moves events in or out of the rollups moves them here too. The period
totals are kept per model as well (pages read them); a rule cannot be "per" model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..money import join
from ..store.period_groups import KEPT, Key, day_key, month_key, period_sums

# The dimensions a rule or a budget can be "per" (rollup column names); the period totals keep KEPT.
DIMENSIONS = ("service", "agent", "user_id", "tier", "mode")
# How people name them in config and on the command line.
ALIASES = {"user": "user_id", "user_id": "user_id", "agent": "agent", "tier": "tier", "mode": "mode",
           "service": "service"}  # fmt: skip


@dataclass(frozen=True)
class Figures:
    events: int = 0
    unpriced: int = 0
    cost: int = 0  # nano-USD


def keys_of(row: Mapping[str, Any]) -> list[Key]:
    """Every total one event row counts into."""
    day: dt.date = row["day"]
    out: list[Key] = []
    for period in (day_key(day), month_key(day)):
        out.append((period, "", ""))
        out.extend((period, d, row[d]) for d in KEPT if row.get(d))
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


__all__ = ["ALIASES", "DIMENSIONS", "Figures", "Key", "day_key", "keys_of", "month_key", "period_sums", "raw",
           "read_totals"]  # fmt: skip
