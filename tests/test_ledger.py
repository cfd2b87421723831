"""The embedded ledger: recording, idempotency, unpriced events, sessions, and exact sums."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from costledger import InvalidEvent, Ledger
from costledger.store.check import check_store
from costledger.store.schema import events as events_table

TS = "2026-11-02T10:00:00Z"


def llm(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "ts": TS,
        "service": "anthropic",
        "model": "claude-sonnet-4-20250514",
        "usage": {"input_tokens": 8000, "output_tokens": 350},
        **extra,
    }


def count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])


def test_record_returns_counts_and_commits_before_returning(ledger: Ledger, db_path: Path) -> None:
    result = ledger.record(llm("a"))
    assert (result.accepted, result.duplicates, result.unpriced) == (1, 0, 0)
    assert result.cost_usd == Decimal("0.02925")
    # Another connection (as another process would) sees it at once.
    assert count(db_path) == 1
    assert result.as_dict() == {"accepted": 1, "duplicates": 0, "unpriced": 0, "cost_usd": "0.02925"}


def test_record_with_service_model_and_keywords(ledger: Ledger) -> None:
    result = ledger.record("deepgram", "nova-3", audio_seconds=300, agent="ears", user_id="u1")
    assert result.cost_usd == Decimal("0.0215")
    (row,) = ledger.report(by="agent")
    assert row.group == {"agent": "ears"} and row.cost_usd == Decimal("0.0215")


def test_the_same_batch_recorded_twice_is_counted_once(ledger: Ledger) -> None:
    batch = [llm(f"e{i}", session_id="s1", agent=f"agent{i % 3}") for i in range(50)]
    first = ledger.record_many(batch)
    again = ledger.record_many(batch)
    assert (first.accepted, first.duplicates) == (50, 0)
    assert (again.accepted, again.duplicates, again.cost_usd) == (0, 50, Decimal(0))
    (total,) = ledger.report(by=[])
    assert total.events == 50 and total.cost_usd == Decimal("0.02925") * 50
    summary = ledger.session_summary("s1")
    assert summary is not None and summary.events == 50 and summary.cost_usd == Decimal("1.4625")
    assert check_store(ledger.store) == []


def test_duplicates_inside_one_batch_are_counted_once(ledger: Ledger) -> None:
    result = ledger.record_many([llm("x"), llm("x"), llm("y")])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert ledger.total_usd() == Decimal("0.0585")


def test_a_partly_seen_batch_stores_only_the_new_events(ledger: Ledger) -> None:
    ledger.record_many([llm("a"), llm("b")])
    result = ledger.record_many([llm("b"), llm("c"), llm("a"), llm("d")])
    assert (result.accepted, result.duplicates) == (2, 2)
    assert ledger.report(by=[])[0].events == 4
    assert check_store(ledger.store) == []


def test_one_invalid_event_refuses_the_whole_batch(ledger: Ledger, db_path: Path) -> None:
    batch = [llm("ok1"), llm("bad", usage={"input_tokens": -5}), llm("ok2")]
    with pytest.raises(InvalidEvent) as caught:
        ledger.record_many(batch)
    assert caught.value.errors[0][:2] == (1, "usage")
    assert count(db_path) == 0
    assert ledger.report(by=[]) == []


def test_an_unknown_model_is_stored_unpriced_never_guessed(ledger: Ledger, db_path: Path) -> None:
    result = ledger.record_many([llm("p"), {**llm("u"), "model": "claude-sonnet-9"}])
    assert (result.accepted, result.unpriced) == (2, 1)
    assert result.cost_usd == Decimal("0.02925")
    with sqlite3.connect(db_path) as connection:
        cost, reason = connection.execute("SELECT cost, unpriced_reason FROM events WHERE event_id='u'").fetchone()
    assert cost is None and "claude-sonnet-9" in reason
    by_model = {r.group["model"]: r for r in ledger.report(by="model")}
    assert by_model["claude-sonnet-9"].unpriced == 1 and by_model["claude-sonnet-9"].cost_usd == 0


def test_a_reported_cost_wins_and_is_marked(ledger: Ledger) -> None:
    ledger.record({"event_id": "r", "ts": TS, "service": "railway", "model": "server", "cost_usd": "20"})
    with ledger.store.engine.connect() as connection:
        row = connection.execute(select(events_table).where(events_table.c.event_id == "r")).one()
    assert row.cost == 20 * 10**9 and row.cost_source == "reported" and row.price_ref is None


def test_the_stored_row_keeps_the_price_entry_and_exact_time(ledger: Ledger) -> None:
    ledger.record(llm("t", ts="2026-11-02T23:59:59.5-01:00", tags={"env": "prod"}, metadata={"n": 1}))
    with ledger.store.engine.connect() as connection:
        row = connection.execute(select(events_table).where(events_table.c.event_id == "t")).one()
    assert row.ts == dt.datetime(2026, 11, 3, 0, 59, 59, 500000)  # stored as UTC
    assert row.day == dt.date(2026, 11, 3)
    assert row.price_ref == "correction:anthropic/claude-sonnet-4-0@2025-08-12"
    assert row.usage == '{"input_tokens": 8000, "output_tokens": 350}'
    assert (row.tags, row.meta) == ('{"env": "prod"}', '{"n": 1}')
    assert ledger.report(by="day", since=dt.date(2026, 11, 3))[0].group == {"day": "2026-11-03"}
    # The text SQLite keeps is SQLAlchemy's own format, so its queries compare it correctly.
    with ledger.store.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT ts, day FROM events WHERE event_id = 't'").one()
    assert tuple(raw) == ("2026-11-03 00:59:59.500000", "2026-11-03")


@pytest.mark.postgres
def test_postgres_records_once_and_keeps_rollups_equal_to_events(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        batch = [llm(f"p{i}", session_id=f"s{i % 3}", agent=f"a{i % 2}") for i in range(30)]
        batch.append({**llm("unpriced"), "model": "claude-sonnet-9", "session_id": "s0"})
        first = ledger.record_many(batch)
        again = ledger.record_many([*batch[:10], llm("p30", session_id="s1")])
        assert (first.accepted, first.duplicates, first.unpriced) == (31, 0, 1)
        assert (again.accepted, again.duplicates) == (1, 10)
        (total,) = ledger.report(by=[])
        assert (total.events, total.unpriced, total.cost_usd) == (32, 1, Decimal("0.02925") * 31)
        assert check_store(ledger.store) == []


def test_a_session_keeps_its_fields_times_total_and_breakdowns(ledger: Ledger) -> None:
    with ledger.session("room-42", user_id="u_17", tier="creator", mode="combined") as s:
        s.record("anthropic", "claude-sonnet-4-20250514", input_tokens=8000, output_tokens=350, agent="scholar")
        s.record("deepgram", "nova-3", audio_seconds=300)
        s.record_many([{"service": "livekit", "usage": {"participant_minutes": 10}, "agent": "host"}])
    summary = s.summary
    assert summary is not None
    assert (summary.user_id, summary.tier, summary.mode, summary.events) == ("u_17", "creator", "combined", 3)
    # 10 WebRTC participant minutes at $0.0005.
    assert s.total_usd == Decimal("0.02925") + Decimal("0.0215") + Decimal("0.005")
    assert s.by_service == {"anthropic": Decimal("0.02925"), "deepgram": Decimal("0.0215"), "livekit": Decimal("0.005")}
    assert summary.by_agent == {"scholar": Decimal("0.02925"), "": Decimal("0.0215"), "host": Decimal("0.005")}
    assert summary.ended_at >= summary.started_at and summary.duration_seconds >= 0
    assert s.recorded.accepted == 3
    (by_user,) = ledger.report(by="user")
    assert by_user.group == {"user": "u_17"} and by_user.events == 3


def test_an_empty_batch_records_nothing(ledger: Ledger) -> None:
    assert ledger.record_many([]).accepted == 0


def test_default_ledger_lives_where_costledger_db_points(tmp_path: Path) -> None:
    with Ledger() as ledger:
        ledger.record(llm("d"))
    assert count(tmp_path / "default-ledger.db") == 1


TINY = Decimal("0.000000001")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_one_million_tiny_costs_sum_exactly(tmp_path: Path) -> None:
    # A float accumulator drifts after a few million additions of 1e-9; integer nano-dollars never do.
    n, batch = 1_000_000, 20_000
    with Ledger(tmp_path / "million.db") as ledger:
        for start in range(0, n, batch):
            recorded = ledger.record_many(
                [
                    {"event_id": str(i), "ts": TS, "service": "meter", "model": "tick", "cost_usd": "0.000000001"}
                    for i in range(start, start + batch)
                ]
            )
            assert recorded.accepted == batch and recorded.cost_usd == TINY * batch
        (total,) = ledger.report(by=[])
        assert total.events == n
        assert total.cost_usd == Decimal("0.001")
        assert ledger.total_usd() == TINY * n
