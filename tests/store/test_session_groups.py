"""Totals grouped by session from the sessions table (store/session_groups.py) equal the same grouping
counted from the events, on both backends, for every kind of range: sessions inside it, sessions that
started before it or end after it (across midnight, and sessions held open for days by
`ledger.session()` beyond their events), events of no session, unpriced events, and no events at all."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from costledger import Ledger
from costledger.store import queries
from costledger.store.session_groups import answers, no_session, running_into
from costledger.store.totals_query import rollup_totals
from costledger.store.types import Filters, Total

T0 = dt.datetime(2026, 10, 28, 0, 0, tzinfo=dt.UTC)
D = dt.date
RANGES = [
    (None, None), (D(2026, 10, 30), None), (None, D(2026, 11, 2)), (D(2026, 10, 30), D(2026, 11, 2)),
    (D(2026, 11, 1), D(2026, 11, 1)), (D(2026, 10, 1), D(2026, 10, 27)), (D(2026, 11, 20), None),
    (D(2026, 10, 31), D(2026, 10, 31)), (D(2026, 11, 3), D(2026, 11, 4)),
]  # fmt: skip


def _workload(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for n in range(700):
        # A session's events lie within an hour and a half of its first: many cross a midnight.
        session = rng.randrange(120)
        at = T0 + dt.timedelta(hours=session * 1.3 + rng.uniform(0, 1.5))
        # Most in a session; some in none, and a few in the session named '' (read as none, as events group it).
        draw = rng.random()
        fields: dict[str, Any] = {"session_id": f"s{session}" if draw < 0.82 else ""} if draw < 0.85 else {}
        # Deepgram nova-3 at $0.0043 a minute; one event in twenty of a model no catalog knows.
        model = "no-such-model" if rng.random() < 0.05 else "nova-3"
        out.append({"event_id": f"e{n}", "ts": at.isoformat(), "service": "deepgram", "model": model,
                    "usage": {"audio_seconds": rng.randrange(1, 4000)}, **fields})  # fmt: skip
    return out


def _as_set(found: list[Total]) -> set[tuple[Any, ...]]:
    return {(t.group["session"], t.events, t.unpriced, t.cost_usd) for t in found}


def test_session_totals_equal_the_events_grouped_by_session(store_url: str) -> None:
    rng = random.Random(11)
    with Ledger(store_url) as ledger:
        events = _workload(rng)
        rng.shuffle(events)
        for first in range(0, len(events), 90):
            ledger.record_many(events[first : first + 90])
        # Held open by ledger.session() from two days before its first event to three days after its
        # last: its row's span crosses ranges its events do not reach.
        ledger.store.touch_session("s40", dt.datetime(2026, 10, 28, 6), {})
        ledger.store.touch_session("s40", dt.datetime(2026, 11, 7, 12), {})
        # Opened and closed with no event in it.
        ledger.store.touch_session("idle", dt.datetime(2026, 10, 29, 23), {})
        ledger.store.touch_session("idle", dt.datetime(2026, 11, 2, 1), {})
        with ledger.store.engine.connect() as connection:
            for since, until in RANGES:
                filters = Filters(since=since, until=until)
                assert answers(["session"], filters)
                kept = queries.totals(connection, ["session"], filters)
                counted = rollup_totals(connection, ["session"], filters)
                assert _as_set(kept) == _as_set(counted), (since, until)
                assert len(kept) == len(counted)
            # Checked that the ranges reach each case: a range with sessions cut at each edge, and none.
            cut = {t.group["session"]: t.events for t in queries.totals(connection, ["session"],
                                                                       Filters(since=D(2026, 10, 30)))}  # fmt: skip
            assert None in cut and "s40" in cut and "idle" not in cut
            assert queries.totals(connection, ["session"], Filters(since=D(2026, 12, 1))) == []


def test_filters_beyond_the_range_stay_with_the_events() -> None:
    assert answers(["session"], Filters(since=D(2026, 11, 1)))
    assert not answers(["session", "service"], Filters())
    assert not answers(["session"], Filters(dims={"user_id": "u1"}))
    assert not answers(["session"], Filters(tags={"region": "eu"}))


def test_the_reads_beside_the_range_use_their_indexes(store_url: str) -> None:
    """The sessions that started before a range and ran into it are read from ix_sessions_ended, and the
    events of no session from ix_events_no_session (migration 0015), not from every session before the
    range or every event in it; on PostgreSQL in the generic plan, the table's scan turned off."""
    from tests.store.test_queries import _plan

    with Ledger(store_url) as ledger:
        ledger.record_many([{"event_id": f"e{i}", "ts": f"2026-11-{1 + i % 20:02d}T23:30:00Z", "service": "deepgram",
                             "model": "nova-3", "usage": {"audio_seconds": 5}, "session_id": f"s{i}"}
                            for i in range(200)])  # fmt: skip
        with ledger.store.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")
                connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            plans = []
            days = Filters(since=D(2026, 11, 10), until=D(2026, 11, 12))
            for query in (running_into(dt.datetime(2026, 11, 10)), no_session(connection.dialect.name, days)):
                compiled = query.compile(dialect=connection.dialect)
                parameters: Any = compiled.params
                if connection.dialect.name == "sqlite":
                    parameters = tuple(parameters[name] for name in compiled.positiontup or ())
                plans.append(_plan(connection, str(compiled), parameters))
    assert "ix_sessions_ended" in plans[0] and "ix_events_no_session" in plans[1], plans


@pytest.mark.parametrize("until", [D(2026, 11, 5), None])
def test_no_events_no_rows(store_url: str, until: D | None) -> None:
    with Ledger(store_url) as ledger, ledger.store.engine.connect() as connection:
        assert queries.totals(connection, ["session"], Filters(since=D(2026, 11, 1), until=until)) == []
