"""A session listing's count (`list_sessions`, `GET /v1/sessions`): the kept counts of the sessions with
events plus the sessions without any (ix_sessions_empty, migration 0016), equal to counting the sessions
table for every filter, on both backends; and the sessions without events read from their index."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import func, select

from costledger import Ledger
from costledger.store import queries
from costledger.store.schema import EMPTY, sessions
from costledger.store.sessions_query import session_conditions
from costledger.store.types import Filters

D = dt.date
FILTERS = [
    Filters(), Filters(since=D(2026, 11, 3)), Filters(until=D(2026, 11, 2)), Filters(dims={"tier": "pro"}),
    Filters(dims={"mode": "voice"}), Filters(since=D(2026, 11, 2), until=D(2026, 11, 4), dims={"tier": "free"}),
    Filters(dims={"tier": "pro", "mode": "text"}), Filters(dims={"user_id": "u3"}), Filters(since=D(2026, 12, 1)),
]  # fmt: skip


def _record(ledger: Ledger, rng: random.Random) -> None:
    events = []
    for n in range(400):
        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(6 * 24 * 60))
        session = rng.randrange(80)
        fields: dict[str, Any] = {"user_id": f"u{session % 7}"}
        if rng.random() < 0.5:
            fields["tier"] = ("free", "pro")[session % 2]
        if rng.random() < 0.5:
            fields["mode"] = ("voice", "text")[session % 3 % 2]
        events.append({"event_id": f"e{n}", "ts": at.isoformat(), "service": "deepgram", "model": "nova-3",
                       "usage": {"audio_seconds": 30}, "session_id": f"s{session}", **fields})  # fmt: skip
    # A session named by an empty mode.
    events.append({"event_id": "blank-mode", "ts": "2026-11-02T10:00:00Z", "service": "deepgram", "model": "nova-3",
                   "usage": {"audio_seconds": 30}, "session_id": "s-blank", "mode": ""})  # fmt: skip
    for first in range(0, len(events), 70):
        ledger.record_many(events[first : first + 70])
    # Sessions opened by ledger.session() with nothing recorded yet, some with a tier and a mode.
    for n in range(12):
        at = dt.datetime(2026, 11, 1 + n % 6, 8)
        fields = {"tier": "pro", "mode": "voice"} if n % 3 == 0 else {}
        ledger.store.touch_session(f"empty{n}", at, fields)


def test_the_listing_count_equals_counting_the_sessions(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        _record(ledger, random.Random(5))
        with ledger.store.engine.connect() as connection:
            for filters in FILTERS:
                counted = connection.execute(select(func.count()).select_from(sessions)
                                             .where(*session_conditions(connection, filters))).scalar_one()  # fmt: skip
                page, count = queries.list_sessions(connection, filters, limit=5)
                assert count == counted, filters
                assert len(page) == min(5, counted)
            # The empty sessions are in the count, and a session that gets its first event leaves them.
            assert queries.list_sessions(connection, Filters(dims={"tier": "pro", "mode": "voice"}))[1] >= 4
        ledger.record_many([{"event_id": "late", "ts": "2026-11-01T09:00:00Z", "service": "deepgram",
                             "model": "nova-3", "usage": {"audio_seconds": 30}, "session_id": "empty0"}])  # fmt: skip
        with ledger.store.engine.connect() as connection:
            for filters in FILTERS[:5]:
                counted = connection.execute(select(func.count()).select_from(sessions)
                                             .where(*session_conditions(connection, filters))).scalar_one()  # fmt: skip
                assert queries.list_sessions(connection, filters)[1] == counted, filters


@pytest.mark.parametrize("filters", [Filters(), Filters(since=D(2026, 11, 3), dims={"tier": "pro"})],
                         ids=["all", "a range and tier"])  # fmt: skip
def test_the_sessions_without_events_are_read_from_their_index(store_url: str, filters: Filters) -> None:
    from tests.store.test_queries import _plan

    with Ledger(store_url) as ledger:
        _record(ledger, random.Random(6))
        with ledger.store.engine.connect() as connection:
            query = select(func.count()).select_from(sessions).where(EMPTY, *session_conditions(connection, filters))
            compiled = query.compile(dialect=connection.dialect)
            parameters: Any = compiled.params
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")
                connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            else:
                parameters = tuple(parameters[name] for name in compiled.positiontup or ())
            plan = _plan(connection, str(compiled), parameters)
    assert "ix_sessions_empty" in plan, plan


@pytest.mark.parametrize("descending", [True, False], ids=["costliest first", "cheapest first"])
def test_the_listing_by_cost_equals_one_order_by(store_url: str, descending: bool) -> None:
    """Read mode by mode and merged (SQLite, store/sessions_query.py), a page by cost is the page one ORDER BY
    over every session gives: ties of cost (most sessions here cost the same) broken by id, sessions of no
    mode or an empty one and without events, at every offset."""
    with Ledger(store_url) as ledger:
        _record(ledger, random.Random(7))
        with ledger.store.engine.connect() as connection:
            direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
            order = [direction(c) for c in (sessions.c.cost_high, sessions.c.cost, sessions.c.session_id)]
            for filters in FILTERS[:6]:
                conditions = session_conditions(connection, filters)
                for limit, offset in ((5, 0), (7, 3), (50, 0), (10, 40), (3, 200)):
                    want = connection.execute(select(sessions.c.session_id).where(*conditions).order_by(*order)
                                              .limit(limit).offset(offset)).scalars().all()  # fmt: skip
                    page, _count = queries.list_sessions(connection, filters, "cost", descending, limit, offset)
                    assert [s.session_id for s in page] == list(want), (filters, limit, offset)
