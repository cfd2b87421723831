"""The consistency check: recount rollups, sessions, session costs and the per-period aggregates
(period totals and pair totals) from the events.

The rollups are kept incrementally in the events' transaction, so they should never
disagree with a recount; this proves it (after a crash, a manual edit, a bug). It reads
every event, so it is an operator's command, not something a dashboard calls.

A session's start and end may lie outside its events: `ledger.session()` opens the
session when the block starts and closes it when it ends. So the check requires only
that the session's span covers its events, and its counts and cost equal the recount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select

from ..money import from_nanos, usd
from .schema import DIMENSIONS, events, rollup_daily, session_costs, sessions
from .sums import cost_sum, stored_sum, summed

COUNTS = ("events", "unpriced", "cost")


@dataclass(frozen=True)
class Difference:
    """One row where the kept aggregate and the recount from the events disagree."""

    table: str  # rollup_daily | sessions | session_costs | period_totals | period_pairs
    key: dict[str, str]
    field: str  # events | unpriced | cost | started_at | ended_at
    stored: str | None  # None: the row is missing
    recounted: str | None  # None: no event supports the row

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "field": self.field,
            "stored": self.stored,
            "recounted": self.recounted,
        }

    def __str__(self) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in self.key.items())
        return f"{self.table}[{key}] {self.field}: stored {self.stored}, recounted from events {self.recounted}"


def _counts() -> tuple[Any, ...]:
    return (
        func.count().label("events"),
        func.coalesce(func.sum(case((events.c.cost.is_(None), 1), else_=0)), 0).label("unpriced"),
        *cost_sum(events.c.cost),
    )


def _recounted(row: Any) -> tuple[int, int, int]:
    """(events, unpriced, cost) of a row of _counts()."""
    return int(row.events), int(row.unpriced), summed(row)


def _kept(row: Any) -> tuple[int, int, int]:
    """(events, unpriced, cost) of an aggregate row as stored."""
    return int(row.events), int(row.unpriced), stored_sum(row)


def _stored_counts(table: Any) -> tuple[Any, ...]:
    return table.c.events, table.c.unpriced, table.c.cost_high, table.c.cost


def _show(field: str, value: Any) -> str:
    if field == "cost":
        return usd(from_nanos(int(value)))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _compare(
    table: str,
    names: tuple[str, ...],
    stored: Mapping[tuple[Any, ...], tuple[int, ...]],
    recount: Mapping[tuple[Any, ...], tuple[int, ...]],
) -> Iterable[Difference]:
    zero = (0,) * len(COUNTS)
    for key in sorted(set(stored) | set(recount), key=lambda k: tuple(str(part) for part in k)):
        have = stored.get(key)
        want = recount.get(key, zero)
        # A row taken back to zero (reprice, sign=-1) is the same as no row.
        if have is None and want == zero:
            continue
        label = {name: str(part) for name, part in zip(names, key, strict=True)}
        if have is None:
            yield Difference(table, label, "row", None, "present")
            continue
        for field, a, b in zip(COUNTS, have, want, strict=True):
            if int(a) != int(b):
                yield Difference(table, label, field, _show(field, a), _show(field, b))


def _rollups(connection: Connection) -> Iterable[Difference]:
    dims = [func.coalesce(events.c[d], "").label(d) for d in DIMENSIONS]
    query = select(events.c.day, *dims, *_counts()).group_by(events.c.day, *dims)
    width = 1 + len(DIMENSIONS)
    recount = {tuple(row[:width]): _recounted(row) for row in connection.execute(query)}
    stored_rows = connection.execute(select(rollup_daily.c.day, *(rollup_daily.c[d] for d in DIMENSIONS),
                                            *_stored_counts(rollup_daily)))  # fmt: skip
    kept = {tuple(row[:width]): _kept(row) for row in stored_rows}
    return _compare("rollup_daily", ("day", *DIMENSIONS), kept, recount)


def _session_costs(connection: Connection) -> Iterable[Difference]:
    agent = func.coalesce(events.c.agent, "").label("agent")
    query = (
        select(events.c.session_id, events.c.service, agent, *_counts())
        .where(events.c.session_id.is_not(None))
        .group_by(events.c.session_id, events.c.service, agent)
    )
    recount = {tuple(row[:3]): _recounted(row) for row in connection.execute(query)}
    kept = {
        tuple(row[:3]): _kept(row)
        for row in connection.execute(
            select(session_costs.c.session_id, session_costs.c.service, session_costs.c.agent,
                   *_stored_counts(session_costs))
        )
    }  # fmt: skip
    return _compare("session_costs", ("session_id", "service", "agent"), kept, recount)


def _sessions(connection: Connection) -> Iterable[Difference]:
    query = (
        select(events.c.session_id, *_counts(), func.min(events.c.ts).label("first"),
               func.max(events.c.ts).label("last"))
        .where(events.c.session_id.is_not(None))
        .group_by(events.c.session_id)
    )  # fmt: skip
    recount = {row.session_id: (_recounted(row), row.first, row.last) for row in connection.execute(query)}
    kept = {
        row.session_id: (_kept(row), row.started_at, row.ended_at)
        for row in connection.execute(
            select(sessions.c.session_id, *_stored_counts(sessions), sessions.c.started_at, sessions.c.ended_at)
        )
    }
    out = list(
        _compare(
            "sessions",
            ("session_id",),
            {(k,): v[0] for k, v in kept.items()},
            {(k,): v[0] for k, v in recount.items()},
        )
    )
    for session_id in sorted(set(kept) & set(recount)):
        started, ended = kept[session_id][1], kept[session_id][2]
        first, last = recount[session_id][1], recount[session_id][2]
        if started > first:
            out.append(Difference("sessions", {"session_id": session_id}, "started_at", _show("", started),
                                  f"on or before {_show('', first)}"))  # fmt: skip
        if ended < last:
            out.append(Difference("sessions", {"session_id": session_id}, "ended_at", _show("", ended),
                                  f"on or after {_show('', last)}"))  # fmt: skip
    return out


def _periods(connection: Connection) -> Iterable[Difference]:
    """The day and month totals (overall, per dimension, per kept pair) that pages, alerts and budgets
    read, recounted from a per-day grouping of the events."""
    from .alerts_schema import period_totals
    from .period_groups import pair_sums, period_sums
    from .schema import period_pairs

    query = select(events.c.day, *(events.c[d] for d in DIMENSIONS), *_counts()).group_by(
        events.c.day, *(events.c[d] for d in DIMENSIONS)
    )
    width = 1 + len(DIMENSIONS)
    buckets: dict[tuple[Any, ...], list[int]] = {}
    for row in connection.execute(query):
        day = row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(str(row[0]))
        key = (day, *(value or None for value in row[1:width]))
        found = buckets.setdefault(key, [0, 0, 0])
        for i, value in enumerate(_recounted(row)):
            found[i] += value
    p, q = period_totals.c, period_pairs.c
    kept = {
        tuple(row[:3]): _kept(row)
        for row in connection.execute(select(p.period, p.dimension, p.value, *_stored_counts(period_totals)))
    }
    recount = {k: tuple(v) for k, v in period_sums(buckets).items()}
    yield from _compare("period_totals", ("period", "dimension", "value"), kept, recount)
    kept_pairs = {
        tuple(row[:4]): _kept(row)
        for row in connection.execute(select(q.pair, q.period, q.a, q.b, *_stored_counts(period_pairs)))
    }
    recount_pairs = {k: tuple(v) for k, v in pair_sums(buckets).items()}
    yield from _compare("period_pairs", ("pair", "period", "a", "b"), kept_pairs, recount_pairs)


def check(connection: Connection) -> list[Difference]:
    """Every difference between the kept aggregates and a recount from the events (empty: consistent)."""
    return [
        *_rollups(connection),
        *_sessions(connection),
        *_session_costs(connection),
        *_periods(connection),
    ]


def check_store(store: Any) -> list[Difference]:
    """`check` over one consistent snapshot of a Store's database."""
    engine = store.engine
    if store.dialect == "postgresql":
        # Read committed would let a concurrent write land between the recount and the read.
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.begin() as connection:
        return check(connection)


__all__ = ["Difference", "check", "check_store"]
