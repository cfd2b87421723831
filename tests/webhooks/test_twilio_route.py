"""POST /v1/webhooks/twilio over loopback, signed with twilio's RequestValidator: completed calls become
phone minutes priced per direction, each call rounded up to the whole minute.

Rates (the catalog's Twilio US entries, from Twilio's published US prices): inbound (local number)
$0.0085 a minute, outbound $0.013 a minute.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from costledger.store.schema import events

from .conftest import Start
from .payloads import call, twilio_signature

D = Decimal
WHEN = "Fri, 20 Nov 2026 10:05:00 +0000"


def post(url: str, params: dict[str, str], signed_for: str | None = None, **headers: str) -> httpx.Response:
    sent = {**twilio_signature(signed_for or url, params), **headers}
    return httpx.post(url, content=urlencode(params), headers=sent, timeout=30)


def rows(server) -> list[dict]:  # type: ignore[no-untyped-def]
    with server.app.state.ledger.store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(events).order_by(events.c.id))]


def test_completed_inbound_and_outbound_calls_are_priced_per_started_minute(webhook_server: Start) -> None:
    server = webhook_server()
    url = f"{server.url}/v1/webhooks/twilio"
    inbound = call(1, "completed", "inbound", 61, WHEN)  # 61 s → 2 minutes × 0.0085 = 0.017
    outbound = call(2, "completed", "outbound-api", 300, WHEN)  # 300 s → 5 minutes × 0.013 = 0.065
    first = post(url, inbound)
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["cost_usd"]) == (1, "0.017")
    assert post(url, outbound).json()["cost_usd"] == "0.065"
    # Twilio retries a callback it did not see answered: counted once.
    assert post(url, inbound).json()["duplicates"] == 1
    a, b = rows(server)
    assert (a["event_id"], a["service"], a["model"], a["session_id"]) == (
        f"twilio:{inbound['CallSid']}",
        "twilio",
        "voice-inbound",
        inbound["CallSid"],
    )
    assert json.loads(a["usage"]) == {"phone_minutes": 2}
    assert json.loads(a["meta"])["twilio"]["CallDuration"] == "61"
    assert a["ts"].isoformat() == "2026-11-20T10:05:00"
    assert (b["model"], json.loads(b["usage"])) == ("voice-outbound", {"phone_minutes": 5})


def test_a_call_joins_the_agents_session_and_its_user_plan_and_mode(webhook_server: Start) -> None:
    # The agent names its session after the call ("call-" + CallSid) and records it first.
    server = webhook_server(twilio_extra='session_prefix = "call-"')
    params = call(3, "completed", "inbound", 59, WHEN)
    session = "call-" + params["CallSid"]
    with server.client("ingest") as agent:
        sent = agent.post("/v1/events", json={"events": [{"service": "deepgram", "model": "nova-3",
                          "usage": {"audio_seconds": 59}, "session_id": session, "user_id": "u_3",
                          "tier": "creator", "mode": "phone_call"}]})  # fmt: skip
        assert sent.status_code == 200
    assert post(f"{server.url}/v1/webhooks/twilio", params).json()["accepted"] == 1
    with server.client() as admin:
        detail = admin.get(f"/v1/sessions/{session}").json()
    assert detail["session"]["by_service"]["twilio"] == "0.0085"  # 59 s → 1 minute
    phone = next(r for r in rows(server) if r["service"] == "twilio")
    assert (phone["user_id"], phone["tier"], phone["mode"]) == ("u_3", "creator", "phone_call")


def test_the_session_can_come_from_the_callback_urls_query(webhook_server: Start) -> None:
    server = webhook_server(twilio_extra='session_parameter = "session_id"\nmode = "phone_call"')
    url = f"{server.url}/v1/webhooks/twilio?session_id=room-42"  # StatusCallback=https://…/v1/webhooks/twilio?session_id=…
    assert post(url, call(4, "completed", "outbound-dial", 1, WHEN)).json()["accepted"] == 1
    (row,) = rows(server)
    assert (row["session_id"], row["mode"]) == ("room-42", "phone_call")


def test_behind_a_proxy_the_public_url_is_what_twilio_signed(webhook_server: Start) -> None:
    public = "https://costs.example.com/v1/webhooks/twilio"
    server = webhook_server(twilio_extra=f'public_url = "{public}"')
    url = f"{server.url}/v1/webhooks/twilio"
    params = call(5, "completed", "inbound", 120, WHEN)
    assert post(url, params).status_code == 400  # signed for the loopback address, not the public one
    assert post(url, params, signed_for=public).json()["accepted"] == 1


def test_forged_unsigned_and_other_statuses_store_nothing(webhook_server: Start) -> None:
    server = webhook_server()
    url = f"{server.url}/v1/webhooks/twilio"
    params = call(6, "completed", "inbound", 60, WHEN)
    forged = {**twilio_signature(url, params, token="0" * 32)}
    assert httpx.post(url, content=urlencode(params), headers=forged).status_code == 400
    tampered = twilio_signature(url, params)
    assert httpx.post(url, content=urlencode({**params, "CallDuration": "6000"}), headers=tampered).status_code == 400
    unsigned = httpx.post(url, content=urlencode(params), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 400 and "X-Twilio-Signature" in unsigned.json()["detail"]
    assert httpx.post(url, content=b"\xff\xfe", headers=tampered).status_code == 400
    ringing = post(url, call(7, "ringing", "inbound", None, WHEN))
    assert ringing.status_code == 200 and "ignored" in ringing.json()
    bad = post(url, {**params, "CallDuration": "-5"})
    assert bad.status_code == 422 and "CallDuration" in bad.json()["detail"]
    assert post(url, {**params, "Direction": "sideways"}).status_code == 422
    assert rows(server) == []


def test_without_an_auth_token_the_endpoint_is_not_enabled(webhook_server: Start) -> None:
    server = webhook_server(text="")
    answer = post(f"{server.url}/v1/webhooks/twilio", call(8, "completed", "inbound", 60, WHEN))
    assert answer.status_code == 404 and "auth_token" in answer.json()["detail"]
