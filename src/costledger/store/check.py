"""The consistency check: recount rollups, sessions, session costs and the per-period aggregates
(period totals and pair totals) from the events, and the sessions started per day and per cost band from
the sessions.

The rollups are kept incrementally in the events' transaction, so they should never
disagree with a recount; this proves it (after a crash, a manual edit, a bug). It reads
every event, so it is an operator's command, not something a dashboard calls.

A session's start and end may lie outside its events: `ledger.session()` opens the
session when the block starts and closes it when it ends. So the check requires only
that the session's span covers its events, and its counts and cost equal the recount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Select, case, cast, func, literal_column, select

from ..money import SPLIT, from_nanos, usd
from .raw import fetch_raw
from .schema import DIMENSIONS, events, rollup_daily, session_costs, sessions
from .session_bands import recounted_bands
from .session_starts import recounted, recounted_nanos
from .sums import DOLLAR

COUNTS = ("events", "unpriced", "cost")


@dataclass(frozen=True)
class Difference:
    """One row where the kept aggregate and the recount from the events disagree."""

    # rollup_daily | sessions | session_costs | period_totals | period_pairs | session_starts | session_bands
    table: str
    key: dict[str, str]
    field: str  # events | unpriced | cost | started_at | ended_at | sessions
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


# A check reads every event group of the ledger. So its reads come back as the driver's own tuples,
# both sides in the same order and in the same shape (a recount's cost in the kept (high, low) columns,
# money.split), and a consistent table is one comparison of the two lists as read; only a table that
# differs is made canonical (_canonical: key columns, events, unpriced, nano-dollars) and compared key by key
# (_compare) to say where.
def _counts() -> tuple[Any, ...]:
    """events, unpriced and the cost as a kept row holds it (cost_high, cost): the last four columns of a
    recount. Summed in halves as sums.cost_sum sums them (no SUM overflows), the nano-dollars' carry put
    into the dollars, which are then split at 10^9 dollars (10^18 nano-dollars) as money.split does for
    a sum that is not negative."""
    # As bigints: PostgreSQL's SUM of a bigint is a numeric, whose `/` does not divide whole numbers.
    dollars = cast(func.coalesce(func.sum(events.c.cost // DOLLAR), 0), BigInteger)
    nanos = cast(func.coalesce(func.sum(events.c.cost % DOLLAR), 0), BigInteger)
    whole = dollars + nanos // DOLLAR
    return (
        func.count(),
        func.coalesce(func.sum(case((events.c.cost.is_(None), 1), else_=0)), 0),
        whole // DOLLAR,
        (whole % DOLLAR) * DOLLAR + nanos % DOLLAR,
    )


def _stored_counts(table: Any) -> tuple[Any, ...]:
    """events, unpriced and the stored sum's two columns: the last four columns of a kept row."""
    return table.c.events, table.c.unpriced, table.c.cost_high, table.c.cost


def _not_zero(table: Any) -> Any:
    """A row taken back to zero (reprice, sign=-1) is the same as no row."""
    return (table.c.events != 0) | (table.c.unpriced != 0) | (table.c.cost != 0) | (table.c.cost_high != 0)


def _canonical(rows: Iterable[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    """Canonical rows of a kept aggregate or a recount: its `width` key columns, then events, unpriced and
    the nano-dollars of its (high, low) columns (as ints: PostgreSQL's SUM of a bigint is a numeric)."""
    w = width
    return [(*row[:w], int(row[w]), int(row[w + 1]), int(row[w + 2]) * SPLIT + int(row[w + 3])) for row in rows]


def _same(table: str, names: tuple[str, ...], kept: list[Any], recount: list[Any]) -> list[Difference]:
    """Two tables read in the same order and shape: equal lists, or where they differ."""
    if kept == recount:
        return []
    width = len(names)
    return _compare(table, names, _by_key(_canonical(kept, width), width), _by_key(_canonical(recount, width), width))


def _show(field: str, value: Any) -> str:
    if field == "cost":
        return usd(from_nanos(int(value)))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _by_key(rows: Iterable[Sequence[Any]], width: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {tuple(row[:width]): tuple(row[width:]) for row in rows}


def _compare(
    table: str,
    names: tuple[str, ...],
    stored: Mapping[tuple[Any, ...], Sequence[Any]],
    recount: Mapping[tuple[Any, ...], Sequence[Any]],
) -> list[Difference]:
    """The differences of two tables of counts keyed alike (a key missing on one side: zero there)."""
    if stored == recount:  # values of one shape on both sides: the usual case, compared at C speed
        return []
    zero = (0,) * len(COUNTS)
    differing = [key for key, have in stored.items() if tuple(have) != tuple(recount.get(key, zero))]
    differing += [key for key, want in recount.items() if key not in stored and tuple(want) != zero]
    out = []
    # Only the keys that differ are sorted (by their text, for a stable listing).
    for key in sorted(differing, key=lambda k: tuple(str(part) for part in k)):
        label = {name: str(part) for name, part in zip(names, key, strict=True)}
        have, want = stored.get(key), recount.get(key, zero)
        if have is None:
            out.append(Difference(table, label, "row", None, "present"))
            continue
        for field, a, b in zip(COUNTS, have, want, strict=True):
            if int(a) != int(b):
                out.append(Difference(table, label, field, _show(field, a), _show(field, b)))
    return out


def _days() -> Callable[[Any], dt.date]:
    """A day column read raw (SQLite: its text; PostgreSQL: a date) as a date, each distinct day parsed once."""
    seen: dict[Any, dt.date] = {}

    def day(value: Any) -> dt.date:
        found = seen.get(value)
        if found is None:
            found = seen[value] = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return found

    return day


def _spans(kept: Iterable[Sequence[Any]], recount: Iterable[Sequence[Any]]) -> list[Difference]:
    """Each session's kept span covers its events (session_id, first, last in both)."""
    spans = {row[0]: (row[1], row[2]) for row in recount}
    out = []
    for session_id, started, ended in sorted(kept, key=lambda row: row[0]):
        if session_id not in spans:
            continue
        first, last = spans[session_id]
        if started > first:
            out.append(Difference("sessions", {"session_id": session_id}, "started_at", _show("", started),
                                  f"on or before {_show('', first)}"))  # fmt: skip
        if ended < last:
            out.append(Difference("sessions", {"session_id": session_id}, "ended_at", _show("", ended),
                                  f"on or after {_show('', last)}"))  # fmt: skip
    return out


def _period_recounts(buckets: list[tuple[Any, ...]]) -> tuple[dict[Any, list[int]], dict[Any, list[int]]]:
    """The day and month totals (overall, per dimension, per kept pair) that pages, alerts and budgets
    read, recounted from the per-day buckets of the events (their canonical rows)."""
    from .period_groups import both_sums

    width, day = 1 + len(DIMENSIONS), _days()
    # '' is no value to the period sums, as None is; the days as dates (their keys are made from them).
    by_bucket = {(day(row[0]), *row[1:width]): row[width:] for row in buckets}
    return both_sums(by_bucket)


def _periods(
    totals: Iterable[Sequence[Any]], pairs: Iterable[Sequence[Any]], recounts: tuple[dict[Any, Any], dict[Any, Any]]
) -> list[Difference]:
    """The kept period totals and pair totals against their recounts (_period_recounts)."""
    kept = {tuple(row[:3]): list(row[3:]) for row in _canonical(totals, 3)}
    out = _compare("period_totals", ("period", "dimension", "value"), kept, recounts[0])
    kept_pairs = {tuple(row[:4]): list(row[4:]) for row in _canonical(pairs, 4)}
    return [*out, *_compare("period_pairs", ("pair", "period", "a", "b"), kept_pairs, recounts[1])]


def _starts(kept: Sequence[Sequence[Any]], recount: Sequence[Sequence[Any]]) -> list[Difference]:
    """The kept sessions started per day, tier and mode, and their cost, against their recount from the
    sessions table (session_starts.recounted)."""
    have = {tuple(row[:3]): (int(row[3]), int(row[4]) * SPLIT + int(row[5])) for row in kept}
    want = {tuple(row[:3]): tuple(row[3:]) for row in map(recounted_nanos, recount)}
    return _keyed("session_starts", ("day", "tier", "mode"), ("sessions", "cost"), have, want)


def _bands(kept: Sequence[Sequence[Any]], recount: Sequence[Sequence[Any]]) -> list[Difference]:
    """The kept sessions per day, tier, mode and cost band against their recount from the sessions table
    (session_bands.recounted_bands)."""
    have = {(row[0], row[1], row[2], int(row[3])): (int(row[4]),) for row in kept}
    want = {(row[0], row[1], row[2], int(row[3])): (int(row[4]),) for row in recount}
    return _keyed("session_bands", ("day", "tier", "mode", "band"), ("sessions",), have, want)


def _keyed(
    table: str,
    names: tuple[str, ...],
    fields: tuple[str, ...],
    have: Mapping[tuple[Any, ...], tuple[int, ...]],
    want: Mapping[tuple[Any, ...], tuple[int, ...]],
) -> list[Difference]:
    """A table kept from the sessions against its recount, both keyed alike: a row on one side only, or
    the fields that differ."""
    if have == want:
        return []
    out = []
    for key in sorted(have.keys() | want.keys(), key=lambda k: tuple(str(part) for part in k)):
        stored, counted = have.get(key), want.get(key)
        label = {name: str(part) for name, part in zip(names, key, strict=True)}
        if stored is None or counted is None:
            out.append(Difference(table, label, "row", None if stored is None else "present",
                                  None if counted is None else "present"))  # fmt: skip
            continue
        for field, a, b in zip(fields, stored, counted, strict=True):
            if a != b:
                out.append(Difference(table, label, field, _show(field, a), _show(field, b)))
    return out


def _queries(dialect: str = "sqlite") -> dict[str, tuple[Select[Any], bool]]:
    """Every read of a check, in the order it uses them; True: read raw (raw.fetch_raw). Both sides of a
    comparison are read in the same order, the recounts with a missing value as '' (as kept)."""
    from .alerts_schema import period_totals
    from .schema import period_pairs, session_bands, session_starts

    # '' written out, not bound: SQLite sorts once for a GROUP BY and an ORDER BY of the same expressions,
    # and coalesce(x, ?) twice is two expressions to it (two sorts of every event).
    none: Any = literal_column("''")
    dims = [func.coalesce(events.c[d], none) for d in DIMENSIONS]
    r, s, q, p = rollup_daily, session_costs, period_pairs, period_totals
    rollup_key = [r.c.day, *(r.c[d] for d in DIMENSIONS)]
    agent = func.coalesce(events.c.agent, none)
    in_session = events.c.session_id.is_not(None)
    cost_key = [events.c.session_id, events.c.service, agent]
    t, b = session_starts, session_bands
    return {
        "buckets": (select(events.c.day, *dims, *_counts()).group_by(events.c.day, *dims)
                    .order_by(events.c.day, *dims), True),
        "rollups": (select(*rollup_key, *_stored_counts(r)).where(_not_zero(r)).order_by(*rollup_key), True),
        "session_costs": (select(*cost_key, *_counts()).where(in_session).group_by(*cost_key).order_by(*cost_key),
                          True),
        "kept_costs": (select(s.c.session_id, s.c.service, s.c.agent, *_stored_counts(s)).where(_not_zero(s))
                       .order_by(s.c.session_id, s.c.service, s.c.agent), True),
        # The sessions with their spans, read as times (a row per session).
        "sessions": (select(events.c.session_id, *_counts(), func.min(events.c.ts), func.max(events.c.ts))
                     .where(in_session).group_by(events.c.session_id).order_by(events.c.session_id), False),
        "kept_sessions": (select(sessions.c.session_id, *_stored_counts(sessions), sessions.c.started_at,
                                 sessions.c.ended_at).where(_not_zero(sessions)).order_by(sessions.c.session_id),
                          False),
        "period_totals": (select(p.c.period, p.c.dimension, p.c.value, *_stored_counts(p)).where(_not_zero(p)),
                          True),
        "period_pairs": (select(q.c.pair, q.c.period, q.c.a, q.c.b, *_stored_counts(q)).where(_not_zero(q)), True),
        # The sessions started per day, tier and mode, recounted from the sessions (whose counts and spans
        # are checked against the events above); each side's day as its Date column reads raw.
        "session_starts": (recounted(dialect), True),
        "kept_starts": (select(t.c.day, t.c.tier, t.c.mode, t.c.sessions, t.c.cost_high, t.c.cost)
                        .where((t.c.sessions != 0) | (t.c.cost != 0) | (t.c.cost_high != 0))
                        .order_by(t.c.day, t.c.tier, t.c.mode), True),
        # The sessions per day, tier, mode and cost band, recounted from the sessions likewise.
        "session_bands": (recounted_bands(dialect), True),
        "kept_bands": (select(b.c.day, b.c.tier, b.c.mode, b.c.band, b.c.sessions).where(b.c.sessions != 0)
                       .order_by(b.c.day, b.c.tier, b.c.mode, b.c.band), True),
    }  # fmt: skip


def check(connection: Connection) -> list[Difference]:
    """Every difference between the kept aggregates and a recount from the events (empty: consistent)."""

    def read(query: Select[Any], raw: bool) -> list[Any]:
        return fetch_raw(connection, query) if raw else list(connection.execute(query).all())

    # The reads run one after another on a second thread, in this transaction, while this thread
    # compares what has come back. On PostgreSQL the server works outside this process, so a check
    # takes about the longer of its SQL and its Python. On SQLite the reader needs Python's lock for
    # every row it builds, and the overlap was measured at nothing (against reading in turn: 14
    # alternating pairs, and again on the demo ledger); it costs nothing either. Only that thread uses the
    # connection until every read is done.
    width = 1 + len(DIMENSIONS)
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            got = {name: pool.submit(read, *query) for name, query in _queries(connection.dialect.name).items()}
            recounted = got["buckets"].result()
            buckets = _canonical(recounted, width)
            # Summed while the other thread reads the rollups and groups the events by session.
            periods = _period_recounts(buckets)
            out = _same("rollup_daily", ("day", *DIMENSIONS), got["rollups"].result(), recounted)
            costs, kept_costs = got["session_costs"].result(), got["kept_costs"].result()
            counted, kept = got["sessions"].result(), got["kept_sessions"].result()
            # Each row's last two columns: the kept span, the events' first and last time.
            out += _same("sessions", ("session_id",), [tuple(row[:-2]) for row in kept],
                         [tuple(row[:-2]) for row in counted])  # fmt: skip
            out += _spans([(row[0], row[-2], row[-1]) for row in kept], [(row[0], row[-2], row[-1]) for row in counted])
            out += _same("session_costs", ("session_id", "service", "agent"), kept_costs, costs)
            out += _periods(got["period_totals"].result(), got["period_pairs"].result(), periods)
            out += _starts(got["kept_starts"].result(), got["session_starts"].result())
            return out + _bands(got["kept_bands"].result(), got["session_bands"].result())
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def check_store(store: Any) -> list[Difference]:
    """`check` over one consistent snapshot of a Store's database."""
    engine = store.engine
    if store.dialect == "postgresql":
        # Read committed would let a concurrent write land between the recount and the read.
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.begin() as connection:
        return check(connection)


__all__ = ["Difference", "check", "check_store"]
