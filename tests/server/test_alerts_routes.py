"""GET /v1/alerts (admin) and GET /v1/budget/check (ingest or admin), over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from costledger import clock

from .harness import ThreadServer, start_thread_server, stop_thread_server

TODAY = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def budget_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadServer]:
    config = tmp_path / "costledger.toml"
    config.write_text('[[budgets]]\nscope = "user"\nperiod = "day"\nlimit_usd = "1.00"\n')
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(config))
    running = start_thread_server(str(tmp_path / "server.db"))
    try:
        yield running
    finally:
        stop_thread_server(running)


def _spend(server: ThreadServer, usd: str, **fields: str) -> None:
    event = {"service": "anthropic", "model": "claude-sonnet-4-20250514", "cost_usd": usd, "ts": TODAY,
             "usage": {"input_tokens": 1}, **fields}  # fmt: skip
    with server.client("ingest") as http:
        assert http.post("/v1/events", json={"events": [event]}).status_code == 200


@pytest.mark.timeout(60)
def test_fired_alerts_are_listed_for_admins_only(budget_server: ThreadServer) -> None:
    _spend(budget_server, "6.25", session_id="room-7", user_id="u1")
    with budget_server.client("admin") as http:
        listed = http.get("/v1/alerts").json()["alerts"]
        assert http.get("/v1/alerts", params={"kind": "daily_total"}).json() == {"alerts": []}
        assert http.get("/v1/alerts", params={"since": "yesterday"}).status_code == 422
    with budget_server.client("ingest") as http:
        assert http.get("/v1/alerts").status_code == 403
    assert [(a["subject"], a["value_usd"], a["threshold_usd"]) for a in listed] == [("session=room-7", "6.25", "5")]


@pytest.mark.timeout(60)
def test_the_server_delivers_queued_alerts_in_the_background(budget_server: ThreadServer) -> None:
    import time

    _spend(budget_server, "5.50", session_id="room-8")
    deadline = time.monotonic() + 15
    status = None
    with budget_server.client("admin") as http:
        while time.monotonic() < deadline and status != "sent":
            status = http.get("/v1/alerts").json()["alerts"][0]["deliveries"][0]["status"]
            time.sleep(0.1)
    assert status == "sent"


@pytest.mark.timeout(60)
def test_budget_check_answers_with_the_figures(budget_server: ThreadServer) -> None:
    _spend(budget_server, "0.80", session_id="call-1", user_id="u1")
    with budget_server.client("ingest") as http:
        ok = http.get("/v1/budget/check", params={"user_id": "u1", "estimate_usd": "0.20"}).json()
        over = http.get("/v1/budget/check", params={"session_id": "call-1", "estimate_usd": "0.25"}).json()
        bad = http.get("/v1/budget/check", params={"user_id": "u1", "estimate_usd": "-1"})
    with budget_server.client() as http:
        assert http.get("/v1/budget/check", params={"user_id": "u1"}).json()["allowed"] is True
    assert ok == {"allowed": True, "budget": "each user, $1.00 per day", "limit_usd": "1", "spent_usd": "0.8",
                  "reserved_usd": "0", "remaining_usd": "0.2", "estimate_usd": "0.2"}  # fmt: skip
    assert over["allowed"] is False and over["remaining_usd"] == "0.2"  # the session's user, looked up
    assert bad.status_code == 422
