"""Totals over a range read from the per-period aggregates equal a recount of the events, on both
backends, over ranges that cross months, cover parts of months, single days, with and without a
filter; they touch neither the rollups nor the events; `db check` catches a corrupted aggregate;
and migration 0008 backfills a store the same as writing it fresh does.

The expected figures are worked out here from the events as generated (reported costs, so exact
by construction), never from the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, text, update

from costledger import Ledger, clock
from costledger.store import Store, migrate, queries
from costledger.store.alerts_schema import period_totals
from costledger.store.check import check_store
from costledger.store.period_groups import PAIRS, pair_name, period_sums, rebuild_periods
from costledger.store.period_reads import pieces, source
from costledger.store.schema import events as events_table
from costledger.store.schema import period_pairs
from costledger.store.totals_query import rollup_totals
from costledger.store.types import Filters
from costledger.store.writer import write_events

NOW = dt.datetime(2026, 12, 10, 12, tzinfo=dt.UTC)
FIRST, LAST = dt.date(2026, 9, 28), dt.date(2026, 12, 8)
CHOICES: dict[str, list[str | None]] = {
    "service": ["anthropic", "deepgram", "cartesia"],
    "model": ["m1", "m2", "m3"],
    "agent": ["host", "judge", "scribe", None],
    "user_id": ["u1", "u2", "u3", "u4", "u5", None],
    "tier": ["free", "pro", None],
    "mode": ["voice", "text", None],
}


def _events(seed: int = 7, n: int = 900) -> list[dict[str, Any]]:
    """Events over FIRST..LAST; about one in twelve of an unknown service, unpriced."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        day = FIRST + dt.timedelta(days=rng.randrange((LAST - FIRST).days + 1))
        ts = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC)
        e: dict[str, Any] = {"event_id": f"e{i}", "ts": ts.isoformat().replace("+00:00", "Z"),
                             "usage": {"requests": 1}}  # fmt: skip
        for dim, values in CHOICES.items():
            value = rng.choice(values)
            if value is not None:
                e[dim] = value
        if rng.random() < 1 / 12:
            e["service"] = "mystery"
        else:
            e["cost_usd"] = str(Decimal(rng.randrange(1, 10**7)) / 10**6)
        out.append(e)
    return out


EVENTS = _events()


def _day(e: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(e["ts"][:10])


def _label(e: dict[str, Any], name: str) -> str | None:
    day = _day(e)
    if name == "day":
        return day.isoformat()
    if name == "week":
        return (day - dt.timedelta(days=day.weekday())).isoformat()
    if name == "month":
        return day.isoformat()[:7]
    value: str | None = e.get({"user": "user_id"}.get(name, name))
    return value


def _recount(by: list[str], filters: Filters) -> dict[tuple[Any, ...], tuple[int, int, Decimal]]:
    out: dict[tuple[Any, ...], tuple[int, int, Decimal]] = {}
    for e in EVENTS:
        day = _day(e)
        if (filters.since and day < filters.since) or (filters.until and day > filters.until):
            continue
        if any(e.get(column) != value for column, value in filters.dims.items()):
            continue
        key = tuple(_label(e, name) for name in by)
        n, unpriced, cost = out.get(key, (0, 0, Decimal(0)))
        priced = "cost_usd" in e
        out[key] = (n + 1, unpriced + (not priced), cost + (Decimal(e["cost_usd"]) if priced else 0))
    return out


def _found(totals: list[Any], by: list[str]) -> dict[tuple[Any, ...], tuple[int, int, Decimal]]:
    found = {tuple(t.group[name] for name in by): (t.events, t.unpriced, t.cost_usd) for t in totals}
    assert len(found) == len(totals)
    return found


RANGES = [
    (None, None),  # all time
    (dt.date(2026, 10, 15), dt.date(2026, 11, 20)),  # crosses a month boundary, parts of both
    (dt.date(2026, 11, 3), dt.date(2026, 12, 2)),  # the dashboard's 30 days: most of one month, a bit of the next
    (dt.date(2026, 10, 1), dt.date(2026, 11, 30)),  # whole months
    (dt.date(2026, 11, 12), dt.date(2026, 11, 12)),  # one day
    (dt.date(2026, 11, 2), dt.date(2026, 11, 29)),  # a month less a day at each end
    (dt.date(2026, 1, 1), dt.date(2026, 10, 2)),  # starts long before the first event
    (dt.date(2026, 12, 5), dt.date(2027, 3, 1)),  # ends long after the last
    (dt.date(2027, 1, 1), dt.date(2027, 1, 31)),  # no events at all
    (None, dt.date(2026, 10, 31)),
    (dt.date(2026, 11, 16), None),
]
# (group by, filters on the dimensions): each answered by the aggregates.
ROUTED = [
    ([], {}),
    (["service"], {}),
    (["model"], {}),
    (["agent"], {}),
    (["user"], {}),
    (["tier"], {}),
    (["mode"], {}),
    (["service", "model"], {}),
    (["user", "tier"], {}),
    (["day"], {}),
    (["week"], {}),
    (["month"], {}),
    (["agent", "month"], {}),
    (["day"], {"service": "anthropic"}),
    (["agent"], {"service": "anthropic"}),
    (["model"], {"mode": "voice"}),
    (["user"], {"tier": "pro"}),
    (["tier"], {"tier": "free"}),
    ([], {"user_id": "u3"}),
    (["day"], {"service": "anthropic", "model": "m2"}),
    (["month", "mode"], {"tier": "pro"}),
]
# Answered by the rollups: several filters, or a pair that is not kept.
NOT_ROUTED = [
    (["user", "agent"], {}),
    (["month", "mode"], {"agent": "judge"}),
    (["service"], {"user_id": "u2"}),
    (["agent"], {"service": "anthropic", "tier": "pro"}),
]


@pytest.fixture
def filled(store_url: str) -> Iterator[Ledger]:
    with clock.use(NOW), Ledger(store_url) as ledger:
        for start in range(0, len(EVENTS), 250):
            ledger.record_many(EVENTS[start : start + 250])
        yield ledger


@contextlib.contextmanager
def _statements(connection: Connection) -> Iterator[list[str]]:
    """The SQL the connection sends inside the block."""
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(args[2])

    event.listen(connection, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", listen)


def test_routed_totals_equal_a_recount_and_read_no_rollup_or_event(filled: Ledger) -> None:
    with filled.store.engine.connect() as connection:
        for by, dims in ROUTED + NOT_ROUTED:
            for since, until in RANGES:
                filters = Filters(since=since, until=until, dims=dims)
                with _statements(connection) as seen:
                    found = queries.totals(connection, by, filters)
                assert _found(found, by) == _recount(by, filters), (by, dims, since, until)
                routed = (by, dims) in ROUTED
                assert (source(by, filters) is not None) == routed, (by, dims)
                touched = [s for s in seen if "rollup_daily" in s or "FROM events" in s]
                assert (touched == []) == routed, (by, dims, touched)


def test_the_aggregates_and_the_rollups_agree_and_sort_alike(filled: Ledger) -> None:
    window = Filters(since=dt.date(2026, 11, 3), until=dt.date(2026, 12, 2))
    with filled.store.engine.connect() as connection:
        for by in (["user"], ["agent"], ["service", "model"], ["user", "tier"], ["week"], ["month", "service"]):
            found = queries.totals(connection, by, window)
            assert _found(found, by) == _found(rollup_totals(connection, by, window), by)
            timeline = [n for n in by if n in ("day", "week", "month")]
            order = [(tuple(t.group[n] for n in timeline), -t.cost_usd, tuple(t.group[n] or "" for n in by))
                     for t in found]  # fmt: skip
            assert order == sorted(order)
        expected = sorted(((k[0], v) for k, v in _recount(["user"], window).items() if k[0]),
                          key=lambda kv: (-kv[1][2], kv[0]))[:3]  # fmt: skip
        top = queries.top(connection, "user", 3, window)
        assert [(t.group["user"], (t.events, t.unpriced, t.cost_usd)) for t in top] == expected


def test_a_range_is_its_months_and_leftover_days() -> None:
    first, last = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    # The 30 days to Dec 2: November less its first two days, and December's two.
    assert pieces(dt.date(2026, 11, 3), dt.date(2026, 12, 2), first, dt.date(2026, 12, 2), False) == [
        ("2026-11", 1), ("2026-11-01", -1), ("2026-11-02", -1), ("2026-12", 1)
    ]  # fmt: skip
    # A few days of a month are those days; whole months one row each.
    assert pieces(dt.date(2026, 3, 30), dt.date(2026, 5, 2), first, last, False) == [
        ("2026-03-30", 1), ("2026-03-31", 1), ("2026-04", 1), ("2026-05-01", 1), ("2026-05-02", 1)
    ]  # fmt: skip
    # Days without events around the ledger's span need no row.
    assert pieces(dt.date(2025, 1, 1), dt.date(2030, 1, 1), dt.date(2026, 2, 10), dt.date(2026, 3, 5), False) == [
        ("2026-02", 1), ("2026-03", 1)
    ]  # fmt: skip
    assert pieces(dt.date(2026, 2, 27), dt.date(2026, 3, 1), first, last, True) == [
        ("2026-02-27", 1), ("2026-02-28", 1), ("2026-03-01", 1)
    ]  # fmt: skip
    assert pieces(dt.date(2026, 5, 1), dt.date(2026, 4, 1), first, last, False) == []


def test_db_check_catches_a_corrupted_pair_row_and_a_missing_model_row(filled: Ledger) -> None:
    assert check_store(filled.store) == []
    name = pair_name(("user_id", "tier"))
    with filled.store.engine.begin() as c:
        c.execute(update(period_pairs).where(period_pairs.c.pair == name, period_pairs.c.period == "2026-11",
                                             period_pairs.c.a == "u2", period_pairs.c.b == "pro")
                  .values(cost=period_pairs.c.cost + 1))  # fmt: skip
        t = period_totals.c
        c.execute(period_totals.delete().where(t.period == "2026-10-05", t.dimension == "model", t.value == "m1"))
    found = {(d.table, d.field, tuple(d.key.values())) for d in check_store(filled.store)}
    assert found == {
        ("period_pairs", "cost", (name, "2026-11", "u2", "pro")),
        ("period_totals", "row", ("2026-10-05", "model", "m1")),
    }


def _aggregates(store: Store) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    with store.engine.connect() as c:
        return (set(c.execute(select(period_totals)).all()), set(c.execute(select(period_pairs)).all()))


@pytest.fixture
def old_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty store of the same backend as store_url."""
    if not store_url.startswith("postgresql"):
        yield str(tmp_path / "old.db")
        return
    import psycopg

    server = store_url.split("?")[0]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{server}?options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_migration_backfills_the_same_aggregates_as_writing_fresh(filled: Ledger, old_url: str) -> None:
    """A store at 0007 (rollups, sessions and the period totals of then: no model rows, no pairs),
    upgraded, holds the aggregates a store written at head holds."""
    with filled.store.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(select(events_table).order_by(events_table.c.id))]
    for row in rows:
        del row["id"]
    old = Store(old_url, upgrade=False)
    try:
        migrate.upgrade(old.engine, "0007")
        with old.engine.begin() as c:
            written = write_events(c, rows)
            kept = sorted((k, v) for k, v in period_sums(written.buckets).items() if k[1] != "model")
            c.execute(period_totals.insert(), [{"period": p, "dimension": d, "value": v, "events": n, "unpriced": u,
                                                "cost_high": cost // 10**18, "cost": cost % 10**18}
                                               for (p, d, v), (n, u, cost) in kept])  # fmt: skip
            assert "period_pairs" not in {r[0] for r in c.execute(text(_TABLES[c.dialect.name]))}
    finally:
        old.close()
    upgraded = Store(old_url)
    try:
        assert migrate.current(upgraded.engine) == migrate.head()
        assert _aggregates(upgraded) == _aggregates(filled.store)
        assert check_store(upgraded) == []
    finally:
        upgraded.close()


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


def test_every_kept_pair_is_distinct() -> None:
    assert len({frozenset(p) for p in PAIRS}) == len(PAIRS)


def test_rebuilding_from_the_rollups_gives_back_what_the_writes_kept(filled: Ledger) -> None:
    """rebuild_periods, for stores filled in bulk, makes the very rows Store.write keeps."""
    kept = _aggregates(filled.store)
    with filled.store.engine.begin() as c:
        c.execute(period_pairs.delete())
        rebuild_periods(c)
    assert _aggregates(filled.store) == kept
    assert check_store(filled.store) == []


def test_a_range_of_decades_reads_the_rollups_and_agrees(tmp_path: Path) -> None:
    """Events 25 years apart: the months between are not walked one by one; the rollups answer."""
    with clock.use(NOW), Ledger(tmp_path / "l.db") as ledger:
        ledger.record_many([
            {"service": "acme", "usage": {"requests": 1}, "cost_usd": "1.25", "ts": "2001-05-04T10:00:00Z"},
            {"service": "acme", "usage": {"requests": 1}, "cost_usd": "2.50", "ts": "2026-11-04T10:00:00Z"},
        ])  # fmt: skip
        with ledger.store.engine.connect() as connection, _statements(connection) as seen:
            found = queries.totals(connection, ["month"], Filters())
        assert [(t.group["month"], t.cost_usd) for t in found] == [("2001-05", Decimal("1.25")),
                                                                   ("2026-11", Decimal("2.50"))]  # fmt: skip
        assert any("rollup_daily" in s for s in seen)
        assert ledger.report([], since=dt.date(2026, 1, 1))[0].cost_usd == Decimal("2.50")
