"""`costledger sessions`, `costledger session ID` and `costledger overview` on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    rows = [
        ("a1", "s1", "u1", "pro", "2026-11-02T10:00:00Z", "anthropic", "scholar", "1.25"),
        ("a2", "s1", "u1", "pro", "2026-11-02T10:10:00Z", "deepgram", None, "0.25"),
        ("b1", "s2", "u2", "free", "2026-11-05T09:00:00Z", "anthropic", "critic", "0.40"),
        ("c1", "s3", "u1", "pro", "2026-11-20T08:00:00Z", "mystery", None, None),
    ]
    with Ledger(path) as ledger:
        ledger.record_many(
            {"event_id": eid, "session_id": sid, "user_id": user, "tier": tier, "mode": "combined", "ts": ts,
             "service": service, "model": "m", "usage": {"requests": 1},
             **({"agent": agent} if agent else {}), **({"cost_usd": cost} if cost else {})}
            for eid, sid, user, tier, ts, service, agent, cost in rows
        )  # fmt: skip
    return path


def test_sessions_json_sorted_and_paged(db: str) -> None:
    result = runner.invoke(app, ["sessions", "--db", db, "--sort", "cost", "--limit", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 3 and [s["session_id"] for s in data["sessions"]] == ["s1", "s2"]
    assert data["sessions"][0]["cost_usd"] == "1.5" and data["sessions"][0]["by_service"] == {
        "anthropic": "1.25",
        "deepgram": "0.25",
    }
    assert data["sessions"][0]["duration_seconds"] == 600


def test_sessions_filters_and_csv(db: str) -> None:
    result = runner.invoke(app, ["sessions", "--db", db, "--user", "u1", "--since", "2026-11-03", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["session_id"], r["unpriced"], r["cost_usd"]) for r in rows] == [("s3", "1", "0")]
    result = runner.invoke(app, ["sessions", "--db", db, "--min-cost", "0.5", "--asc", "--json"])
    assert [s["session_id"] for s in json.loads(result.stdout)["sessions"]] == ["s1"]


def test_sessions_refuses_a_bad_sort_or_amount(db: str) -> None:
    result = runner.invoke(app, ["sessions", "--db", db, "--sort", "user"])
    assert result.exit_code == 2 and "cannot sort sessions by 'user'" in result.stderr
    result = runner.invoke(app, ["sessions", "--db", db, "--max-cost", "lots"])
    assert result.exit_code == 2 and "--max-cost" in result.stderr


def test_session_shows_its_events_and_breakdown(db: str) -> None:
    result = runner.invoke(app, ["session", "s1", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cost_usd"] == "1.5" and data["by_agent"] == {"": "0.25", "scholar": "1.25"}
    assert [(e["event_id"], e["cost_usd"]) for e in data["event_list"]] == [("a1", "1.25"), ("a2", "0.25")]
    table = runner.invoke(app, ["session", "s3", "--db", db])
    assert table.exit_code == 0 and "unpriced" in table.stdout and "mystery" in table.stdout
    missing = runner.invoke(app, ["session", "nope", "--db", db])
    assert missing.exit_code == 1 and "no session 'nope'" in missing.stderr


def test_overview_json_and_table(db: str) -> None:
    result = runner.invoke(app, ["overview", "--db", db, "--today", "2026-11-20", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    month = data["month"]
    assert (month["cost_usd"], month["today_usd"], month["events"], data["unpriced"]) == ("1.9", "0", 4, 1)
    # Complete days 11-13..11-19 cost nothing: the rate is 0, so the forecast is what was spent.
    assert month["run_rate_usd"] == "0" and month["forecast_usd"] == "1.9"
    assert [u["user"] for u in data["top_users"]] == ["u1", "u2"]
    table = runner.invoke(app, ["overview", "--db", db, "--today", "2026-11-20"])
    assert table.exit_code == 0 and "forecast $1.9" in table.stdout and "1 unpriced events" in table.stdout
