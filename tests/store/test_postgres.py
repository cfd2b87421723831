"""The Ledger API behaves the same on PostgreSQL as on the embedded SQLite file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger
from costledger.store.check import check_store

SONNET = "claude-sonnet-4-20250514"
T0 = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)


def _scenario(url: str) -> dict[str, Any]:
    with Ledger(url) as ledger:
        first = ledger.record("anthropic", SONNET, input_tokens=8000, output_tokens=350, agent="scholar",
                              session_id="room-1", user_id="u1", tier="creator", event_id="e-1", ts=T0)  # fmt: skip
        retry = ledger.record("anthropic", SONNET, input_tokens=8000, output_tokens=350, agent="scholar",
                              session_id="room-1", user_id="u1", tier="creator", event_id="e-1", ts=T0)  # fmt: skip
        batch = ledger.record_many(
            [
                {"event_id": "e-2", "ts": (T0 + dt.timedelta(minutes=3)).isoformat(), "service": "deepgram",
                 "model": "nova-3", "usage": {"audio_seconds": 300}, "session_id": "room-1"},
                {"event_id": "e-2", "ts": (T0 + dt.timedelta(minutes=3)).isoformat(), "service": "deepgram",
                 "model": "nova-3", "usage": {"audio_seconds": 300}, "session_id": "room-1"},
                {"event_id": "e-3", "ts": (T0 + dt.timedelta(days=1)).isoformat(), "service": "acme",
                 "model": "mystery", "usage": {"requests": 1}, "session_id": "room-2"},
            ]
        )  # fmt: skip
        summary = ledger.session_summary("room-1")
        assert summary is not None
        report = [t.as_dict() for t in ledger.report(["service", "day"])]
        differences = check_store(ledger.store)
        return {
            "first": first,
            "retry": retry,
            "batch": batch,
            "session": (summary.events, summary.cost_usd, summary.started_at, summary.ended_at, summary.by_service),
            "report": sorted(report, key=lambda r: (r["service"], r["day"])),
            "total": ledger.total_usd(),
            "differences": differences,
        }


@pytest.mark.postgres
def test_postgres_ledger_records_dedupes_and_reports_like_sqlite(pg_url: str, tmp_path: object) -> None:
    on_postgres = _scenario(pg_url)
    on_sqlite = _scenario(str(tmp_path) + "/same.db")
    assert on_postgres == on_sqlite
    assert on_postgres["retry"].duplicates == 1 and on_postgres["retry"].accepted == 0
    batch = on_postgres["batch"]
    assert (batch.accepted, batch.duplicates, batch.unpriced) == (2, 1, 1)
    # 8000 × $3/M + 350 × $15/M + 5 min × $0.0043
    assert on_postgres["total"] == Decimal("0.024") + Decimal("0.00525") + Decimal("0.0215")
    events, cost, started, ended, by_service = on_postgres["session"]
    assert events == 2 and cost == Decimal("0.05075")
    assert (started, ended) == (T0, T0 + dt.timedelta(minutes=3))
    assert by_service == {"anthropic": Decimal("0.02925"), "deepgram": Decimal("0.0215")}
    assert {"service": "acme", "day": "2026-11-20", "events": 1, "unpriced": 1, "cost_usd": "0"} in on_postgres[
        "report"
    ]
    assert on_postgres["differences"] == []


@pytest.mark.postgres
def test_postgres_url_from_environment(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLEDGER_DATABASE_URL", pg_url)
    with Ledger() as ledger:
        assert ledger.store.dialect == "postgresql"
        ledger.record("deepgram", "nova-3", audio_seconds=60, event_id="env-1")
        assert ledger.total_usd() == Decimal("0.0043")
    with Ledger(pg_url) as again:  # the same database, not a new file
        assert again.record("deepgram", "nova-3", audio_seconds=60, event_id="env-1").duplicates == 1
