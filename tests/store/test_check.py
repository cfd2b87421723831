"""`costledger db check` finds every way the kept totals can disagree with the events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, update
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.store.check import check_store
from costledger.store.schema import rollup_daily, session_costs, sessions

T0 = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)


def _fill(ledger: Ledger) -> None:
    with ledger.session("room-1", user_id="u1", tier="creator") as s:
        s.record("anthropic", "claude-sonnet-4-20250514", input_tokens=1000, output_tokens=10, agent="a", ts=T0)
        s.record("deepgram", "nova-3", audio_seconds=60, ts=T0 + dt.timedelta(minutes=1))
        s.record("acme", "unknown-thing", requests=3, agent="b", ts=T0 + dt.timedelta(minutes=2))
    ledger.record("cartesia", "sonic-3", characters=1000, ts=T0 + dt.timedelta(days=1))


def test_consistent_ledger_has_no_differences(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        _fill(ledger)
        assert check_store(ledger.store) == []


def test_tampered_rollups_sessions_and_session_costs_are_each_reported(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        _fill(ledger)
        with ledger.store.engine.begin() as c:
            c.execute(
                update(rollup_daily).where(rollup_daily.c.service == "deepgram").values(cost=rollup_daily.c.cost + 7)
            )
            c.execute(update(sessions).values(started_at=T0.replace(tzinfo=None) + dt.timedelta(seconds=30)))
            c.execute(delete(session_costs).where(session_costs.c.service == "acme"))
            ghost = dict.fromkeys(("model", "agent", "user_id", "tier", "mode"), "")
            c.execute(insert(rollup_daily).values(day=dt.date(2026, 1, 1), service="ghost", **ghost, events=1,
                                                  unpriced=0, cost=5))  # fmt: skip
        found = {(d.table, d.field, tuple(d.key.values())[:2]) for d in check_store(ledger.store)}
    assert found == {
        ("rollup_daily", "cost", ("2026-11-19", "deepgram")),
        ("sessions", "started_at", ("room-1",)),
        ("session_costs", "row", ("room-1", "acme")),
        ("rollup_daily", "events", ("2026-01-01", "ghost")),
        ("rollup_daily", "cost", ("2026-01-01", "ghost")),
    }


def test_missing_session_row_and_counts_are_reported(tmp_path: object) -> None:
    with Ledger(f"{tmp_path}/l.db") as ledger:
        _fill(ledger)
        with ledger.store.engine.begin() as c:
            c.execute(update(sessions).values(unpriced=0, events=sessions.c.events + 1))
        found = sorted((d.field, d.stored, d.recounted) for d in check_store(ledger.store))
    assert found == [("events", "4", "3"), ("unpriced", "0", "1")]


def test_cli_db_check_exits_non_zero_on_a_difference(tmp_path: object) -> None:
    db = f"{tmp_path}/cli.db"
    with Ledger(db) as ledger:
        _fill(ledger)
    runner = CliRunner()
    ok = runner.invoke(app, ["db", "check", "--db", db])
    assert ok.exit_code == 0, ok.output
    assert "consistent" in ok.output
    with Ledger(db) as ledger, ledger.store.engine.begin() as c:
        c.execute(update(rollup_daily).where(rollup_daily.c.service == "cartesia").values(events=5))
    bad = runner.invoke(app, ["db", "check", "--db", db, "--json"])
    assert bad.exit_code == 1
    assert '"field": "events"' in bad.stdout and '"stored": "5"' in bad.stdout


@pytest.mark.parametrize("sign", [1, -1])
def test_rows_taken_back_to_zero_count_as_absent(tmp_path: object, sign: int) -> None:
    from costledger.store.writer import add_to_rollups

    with Ledger(f"{tmp_path}/z.db") as ledger:
        _fill(ledger)
        row = {"day": dt.date(2026, 2, 2), "ts": dt.datetime(2026, 2, 2), "service": "x", "model": None,
               "agent": None, "user_id": None, "tier": None, "mode": None, "session_id": None, "cost": 10}  # fmt: skip
        with ledger.store.engine.begin() as c:
            add_to_rollups(c, [row], sign=sign)
            add_to_rollups(c, [row], sign=-sign)
        assert check_store(ledger.store) == []


def test_period_totals_read_by_alerts_and_budgets_are_recounted(store_url: str) -> None:
    from costledger.store.alerts_schema import period_totals

    with Ledger(store_url) as ledger:
        _fill(ledger)
        assert check_store(ledger.store) == []
        with ledger.store.engine.begin() as c:
            p = period_totals.c
            c.execute(update(period_totals).where(p.period == "2026-11", p.dimension == "").values(cost=p.cost + 1))
        found = {(d.table, d.field, tuple(d.key.values())) for d in check_store(ledger.store)}
    assert found == {("period_totals", "cost", ("2026-11", "", ""))}


def test_one_difference_among_many_rows_is_found_in_every_table(store_url: str) -> None:
    """A ledger of many days, users, sessions and agents: consistent as recorded (every table
    compared whole), then one figure changed in each kept table is the only difference listed."""
    from costledger.store.alerts_schema import period_totals
    from costledger.store.schema import period_pairs

    events = [
        {"event_id": f"e{i}", "ts": (T0 + dt.timedelta(days=i % 9, minutes=i)).isoformat(), "service": "anthropic",
         "model": "claude-haiku-4-5", "usage": {"input_tokens": 100 + i, "output_tokens": i % 50},
         "session_id": f"s{i % 40}", "user_id": f"u{i % 70}", "tier": ("free", "pro")[i % 2],
         "agent": f"agent-{i % 6}", "mode": ("text", "voice")[i % 3 == 0]}
        for i in range(600)
    ]  # fmt: skip
    with Ledger(store_url) as ledger:
        ledger.record_many(events)
        assert check_store(ledger.store) == []
        with ledger.store.engine.begin() as c:
            r, s, p, q = rollup_daily.c, session_costs.c, period_totals.c, period_pairs.c
            c.execute(update(rollup_daily).where(r.user_id == "u7", r.day == dt.date(2026, 11, 26))
                      .values(unpriced=r.unpriced + 1))  # fmt: skip
            c.execute(update(session_costs).where(s.session_id == "s3", s.agent == "agent-3")
                      .values(cost=s.cost + 1))  # fmt: skip
            c.execute(update(period_totals).where(p.period == "2026-11-20", p.dimension == "agent",
                                                  p.value == "agent-1").values(events=p.events + 1))  # fmt: skip
            c.execute(update(period_pairs).where(q.pair == "user_id,tier", q.period == "2026-11", q.a == "u9")
                      .values(cost=q.cost - 1))  # fmt: skip
            # A session's kept end before its last event, and another's event count one too many.
            c.execute(update(sessions).where(sessions.c.session_id == "s5").values(ended_at=sessions.c.started_at))
            c.execute(update(sessions).where(sessions.c.session_id == "s11").values(events=sessions.c.events + 1))
        differences = check_store(ledger.store)
        found = sorted((d.table, d.field, *d.key.values()) for d in differences)
    assert found == [
        ("period_pairs", "cost", "user_id,tier", "2026-11", "u9", "pro"),
        ("period_totals", "events", "2026-11-20", "agent", "agent-1"),
        ("rollup_daily", "unpriced", "2026-11-26", "anthropic", "claude-haiku-4-5", "agent-1", "u7", "pro", "text"),
        ("session_costs", "cost", "s3", "anthropic", "agent-3"),
        ("sessions", "ended_at", "s5"),
        ("sessions", "events", "s11"),
    ]
    # s5's events are i = 5, 45, …, 565, each at T0 + (i mod 9) days + i minutes: the last is i = 485.
    last = max(T0 + dt.timedelta(days=i % 9, minutes=i) for i in range(5, 600, 40))
    assert last == T0 + dt.timedelta(days=8, minutes=485)
    ended = next(d for d in differences if d.field == "ended_at")
    assert ended.recounted == f"on or after {last.replace(tzinfo=None).isoformat(sep=' ')}"
    counted = next(d for d in differences if d.table == "sessions" and d.field == "events")
    assert (counted.stored, counted.recounted) == ("16", "15")  # i = 11, 51, …, 571


def test_the_recounts_from_the_events_sort_them_once_on_sqlite(tmp_path: Path) -> None:
    # A GROUP BY and an ORDER BY of the same expressions share one sort; with '' bound into each
    # coalesce(), SQLite saw different expressions and sorted every event twice per recount.
    from costledger.store.check import _queries

    with Ledger(tmp_path / "l.db") as ledger:
        _fill(ledger)
        with ledger.store.engine.connect() as connection:
            for name in ("buckets", "session_costs"):
                compiled = _queries()[name][0].compile(dialect=connection.dialect)
                plan = connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params[p] for p in compiled.positiontup or ())
                )
                sorts = [row[-1] for row in plan if "TEMP B-TREE" in row[-1]]
                assert sorts == ["USE TEMP B-TREE FOR GROUP BY"], (name, sorts)
