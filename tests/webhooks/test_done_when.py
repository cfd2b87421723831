"""The issue's "done when", end to end against `costledger serve` (a process of its own): a signed Stripe
`charge.succeeded` for €29 on a foreign card and a signed Twilio completed-call callback appear once in the
ledger, in /v1/margins and on the dashboard's margins page with Stripe's fee, the USD amount and the phone
minutes priced; forged and replayed deliveries store nothing.

By hand: €29 at Stripe's 1.0853 = 31.4737 → $31.47; fee (2.9 + 1.5 + 1) % × 31.47 + 0.30 = 1.99938 → $2.00.
The call: 245 s → 5 minutes (rounded up) × $0.0085 (Twilio US, inbound) = $0.0425.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from costledger import clock
from costledger.dashboard import auth
from costledger.store import Store
from costledger.store.schema import events
from server.harness import make_keys

from . import payloads as p
from .conftest import config_text
from .stripe_api import fake_stripe

pytestmark = pytest.mark.timeout(120)


def stored(database: str) -> list[dict[str, Any]]:
    store = Store(database)
    try:
        with store.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(select(events).order_by(events.c.id))]
    finally:
        store.close()


def test_signed_payment_and_call_appear_once_with_real_fee_usd_amount_and_priced_minutes(
    tmp_path: Path, serve_process: Any
) -> None:
    at = int(clock.timestamp())
    txn = p.balance_transaction(1, "ch_3Q0000000000000000000001", 3147, 200, at, rate=1.0853)
    charge = p.charge(1, 2900, "eur", at, txn=txn["id"], customer="cus_RxK2mN8vQ1", country="DE",
                      metadata={"user_id": "u_17", "plan": "creator"})  # fmt: skip
    with fake_stripe(txn) as api:
        config = tmp_path / "costledger.toml"
        config.write_text(config_text(stripe_extra=f'api_key = "rk_test_x"\napi_base = "{api.url}"',
                                      twilio_extra='session_parameter = "session_id"'), encoding="utf-8")  # fmt: skip
        database = str(tmp_path / "ledger.db")
        keys = make_keys(database)
        server = serve_process(database, COSTLEDGER_CONFIG=str(config))
        stripe_url = f"{server.url}/v1/webhooks/stripe"
        twilio_url = f"{server.url}/v1/webhooks/twilio?session_id=call-42"

        body, headers = p.signed(p.event("charge.succeeded", charge, at), at)
        assert httpx.post(stripe_url, content=body, headers=headers).json()["accepted"] == 1
        # Replayed as captured (within the tolerance a retry: counted once), replayed later, forged.
        assert httpx.post(stripe_url, content=body, headers=headers).json()["duplicates"] == 1
        old_body, old = p.signed(p.event("charge.succeeded", charge, at), at - 301)
        assert httpx.post(stripe_url, content=old_body, headers=old).status_code == 400
        forged_body, forged = p.signed(p.event("charge.succeeded", {**charge, "id": "ch_forged"}, at), at, "whsec_x")
        assert httpx.post(stripe_url, content=forged_body, headers=forged).status_code == 400

        params = p.call(42, "completed", "inbound", 245, clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000"))
        signature = p.twilio_signature(twilio_url, params)
        assert httpx.post(twilio_url, content=urlencode(params), headers=signature).json()["cost_usd"] == "0.0425"
        assert httpx.post(twilio_url, content=urlencode(params), headers=signature).json()["duplicates"] == 1
        fake = p.twilio_signature(twilio_url, {**params, "CallSid": "CA" + "f" * 32}, token="f" * 32)
        sent = {**params, "CallSid": "CA" + "f" * 32}
        assert httpx.post(twilio_url, content=urlencode(sent), headers=fake).status_code == 400

        with httpx.Client(base_url=server.url, headers=keys.headers("admin")) as admin:
            (month,) = admin.get("/v1/margins").json()["months"]
            creator, phone = month["plans"]
            by_service = admin.get("/v1/costs?group_by=service").json()["rows"]
            costs = {r["group"]["service"]: r["cost_usd"] for r in by_service}
        with httpx.Client(base_url=server.url) as browser:
            browser.get("/login")
            token = browser.cookies[auth.LOGIN_CSRF_COOKIE]
            browser.post("/login", data={"key": keys.admin, "csrf": token, "next": "/margins"})
            page = browser.get("/margins").text
    rows = stored(database)
    assert [(r["service"], r["event_id"]) for r in rows] == [
        ("stripe", "stripe:ch_3Q0000000000000000000001"),
        ("twilio", f"twilio:{params['CallSid']}"),
    ]
    assert (creator["revenue_usd"], creator["fees_actual_usd"], creator["fees_estimated_usd"]) == ("31.47", "2", "0")
    assert creator["currencies"] == [{"currency": "eur", "revenue": "29", "revenue_usd": "31.47"}]
    assert costs == {"stripe": "2", "twilio": "0.0425"}
    assert (phone["plan"], phone["variable_cost_usd"]) == (None, "0.0425")  # a call no agent session claimed
    for shown in ("fees actual", "fees estimated", "31.47", "paid in", "EUR 29.00 ($31.47)"):
        assert shown in page, shown
