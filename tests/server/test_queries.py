"""The reading routes over loopback: costs grouped and filtered, the daily trend, sessions, prices, health."""

from __future__ import annotations

import datetime as dt

import httpx

from costledger import clock

from .harness import ThreadServer

TODAY = clock.today()
YESTERDAY = TODAY - dt.timedelta(days=1)


def _ts(day: dt.date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


def _seed(server: ThreadServer) -> None:
    events = [
        {"event_id": "a1", "ts": _ts(YESTERDAY), "service": "anthropic", "model": "claude-sonnet-4-20250514",
         "usage": {"input_tokens": 8000, "output_tokens": 350}, "session_id": "room-1", "user_id": "u1",
         "tier": "creator", "agent": "scholar", "mode": "combined", "tags": {"env": "prod"}},
        {"event_id": "d1", "ts": _ts(YESTERDAY, 11), "service": "deepgram", "model": "nova-3",
         "usage": {"audio_seconds": 300}, "session_id": "room-1", "user_id": "u1", "tier": "creator"},
        {"event_id": "c1", "ts": _ts(TODAY, 0), "service": "cartesia", "model": "sonic-3",
         "usage": {"characters": 500}, "session_id": "room-2", "user_id": "u2", "tier": "free",
         "tags": {"env": "dev"}},
        {"event_id": "x1", "ts": _ts(TODAY, 0), "service": "acme", "model": "thing", "usage": {},
         "session_id": "room-2", "user_id": "u2", "tier": "free"},
    ]  # fmt: skip
    with server.client("ingest") as http:
        assert http.post("/v1/events", json={"events": events}).json()["accepted"] == 4


def test_costs_group_by_any_dimensions_with_exact_decimal_strings(server: ThreadServer) -> None:
    _seed(server)
    with server.client() as http:
        by_service = http.get("/v1/costs", params={"group_by": "service"}).json()
        by_user_day = http.get("/v1/costs", params=[("group_by", "user"), ("group_by", "day")]).json()
    assert by_service["cost_usd"] == "0.07035"  # 0.02925 + 0.0215 + 0.0196; acme is unpriced
    assert (by_service["events"], by_service["unpriced"]) == (4, 1)
    assert [(r["group"]["service"], r["cost_usd"]) for r in by_service["rows"]] == [
        ("anthropic", "0.02925"), ("deepgram", "0.0215"), ("cartesia", "0.0196"), ("acme", "0")]  # fmt: skip
    assert by_user_day["group_by"] == ["user", "day"]
    assert {(r["group"]["user"], r["group"]["day"]): r["cost_usd"] for r in by_user_day["rows"]} == {
        ("u1", YESTERDAY.isoformat()): "0.05075", ("u2", TODAY.isoformat()): "0.0196"}  # fmt: skip


def test_costs_filter_by_dates_dimensions_and_tags(server: ThreadServer) -> None:
    _seed(server)
    with server.client() as http:
        today = http.get("/v1/costs", params={"since": TODAY.isoformat()}).json()
        creator = http.get("/v1/costs", params={"tier": "creator", "group_by": "session"}).json()
        prod = http.get("/v1/costs", params={"tag": "env=prod"}).json()
        bad_group = http.get("/v1/costs", params={"group_by": "colour"})
        bad_tag = http.get("/v1/costs", params={"tag": "env"})
        backwards = http.get("/v1/costs", params={"since": TODAY.isoformat(), "until": YESTERDAY.isoformat()})
    assert today["events"] == 2 and today["cost_usd"] == "0.0196"
    assert [(r["group"]["session"], r["cost_usd"]) for r in creator["rows"]] == [("room-1", "0.05075")]
    assert prod["cost_usd"] == "0.02925"
    for refused in (bad_group, bad_tag, backwards):
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"].startswith("query.")
    assert "choose from" in bad_group.json()["errors"][0]["message"]


def test_the_daily_trend_has_one_row_per_day_zeros_included(server: ThreadServer) -> None:
    _seed(server)
    with server.client() as http:
        trend = http.get("/v1/costs/daily", params={"days": 3}).json()
        only_free = http.get("/v1/costs/daily", params={"days": 2, "tier": "free"}).json()
        too_many = http.get("/v1/costs/daily", params={"days": 0})
    assert [r["day"] for r in trend["rows"]] == [(TODAY - dt.timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert [r["cost_usd"] for r in trend["rows"]] == ["0", "0.05075", "0.0196"]
    assert trend["cost_usd"] == "0.07035" and trend["until"] == TODAY.isoformat()
    assert [r["events"] for r in only_free["rows"]] == [0, 2]
    assert too_many.status_code == 422


def test_sessions_are_listed_sorted_paged_and_shown_with_their_events(server: ThreadServer) -> None:
    _seed(server)
    with server.client() as http:
        by_cost = http.get("/v1/sessions", params={"sort": "cost"}).json()
        page = http.get("/v1/sessions", params={"sort": "started_at", "order": "asc", "limit": 1, "offset": 1}).json()
        free = http.get("/v1/sessions", params={"tier": "free"}).json()
        dear = http.get("/v1/sessions", params={"min_cost": "0.03"}).json()
        cheap = http.get("/v1/sessions", params={"max_cost": "0.03"}).json()
        one = http.get("/v1/sessions/room-1").json()
        missing = http.get("/v1/sessions/nope")
        bad_sort = http.get("/v1/sessions", params={"sort": "colour"})
    assert [s["session_id"] for s in by_cost["sessions"]] == ["room-1", "room-2"] and by_cost["total"] == 2
    assert [s["session_id"] for s in page["sessions"]] == ["room-2"] and page["total"] == 2
    assert [s["session_id"] for s in free["sessions"]] == ["room-2"]
    assert [s["session_id"] for s in dear["sessions"]] == ["room-1"]
    assert [s["session_id"] for s in cheap["sessions"]] == ["room-2"]
    assert one["session"]["cost_usd"] == "0.05075"
    assert one["session"]["by_service"] == {"anthropic": "0.02925", "deepgram": "0.0215"}
    assert one["session"]["duration_seconds"] == 3600.0
    assert [(e["event_id"], e["cost_usd"]) for e in one["events"]] == [("a1", "0.02925"), ("d1", "0.0215")]
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert bad_sort.status_code == 422


def test_prices_and_health(server: ThreadServer) -> None:
    with server.client() as http:
        deepgram = http.get("/v1/prices", params={"service": "deepgram"}).json()
        everything = http.get("/v1/prices").json()
    assert "nova-3" in [p["model"] for p in deepgram["prices"]]
    assert {p["service"] for p in deepgram["prices"]} == {"deepgram"}
    assert deepgram["prices"][0]["rates"] and deepgram["prices"][0]["source"]
    assert {"anthropic", "deepgram", "cartesia", "livekit", "stripe"} <= {p["service"] for p in everything["prices"]}
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "sqlite"}
