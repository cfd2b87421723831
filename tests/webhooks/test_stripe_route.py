"""POST /v1/webhooks/stripe over loopback: signed by Stripe's own helper, lookups through the stripe package
against a loopback server that answers like Stripe's API. Figures as in test_stripe_objects (€29 on a
German card: $31.47, fee $2.00)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from costledger import clock
from costledger.store.schema import events
from server.harness import ThreadServer, free_port

from . import payloads as p
from .conftest import Start
from .stripe_api import fake_stripe

D = Decimal


def now() -> int:
    return int(clock.timestamp())


def stored(server: ThreadServer) -> list[dict[str, Any]]:
    with server.app.state.ledger.store.engine.connect() as connection:
        rows = connection.execute(select(events).order_by(events.c.id)).all()
    return [dict(row._mapping) for row in rows]


def post(server: ThreadServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/webhooks/stripe", content=body, headers=headers, timeout=30)


def eur_payment(at: int) -> tuple[dict[str, Any], dict[str, Any]]:
    txn = p.balance_transaction(1, "ch_3Q0000000000000000000001", 3147, 200, at, rate=1.0853)
    charge = p.charge(1, 2900, "eur", at, txn=txn["id"], customer="cus_RxK2mN8vQ1", country="DE",
                      intent="pi_3Q0000000000000000000001")  # fmt: skip
    return charge, txn


def test_a_signed_eur_charge_is_stored_once_with_stripes_fee_read_through_its_api(webhook_server: Start) -> None:
    at = now()
    charge, txn = eur_payment(at)
    customer = {"id": "cus_RxK2mN8vQ1", "object": "customer", "metadata": {"user_id": "u_17", "plan": "creator"}}
    with fake_stripe(txn, customer, charge) as api:
        server = webhook_server(stripe_extra=f'api_key = "rk_test_51Qcostledger"\napi_base = "{api.url}"')
        body, headers = p.signed(p.event("charge.succeeded", charge, at), at)
        first = post(server, body, headers)
        assert first.status_code == 200, first.text
        assert first.json()["accepted"] == 1 and first.json()["recorded"] == [f"stripe:{charge['id']}"]
        # Stripe retries a delivery it did not see answered (same event, signed again later).
        body, headers = p.signed(p.event("charge.succeeded", charge, at), at + 30)
        assert post(server, body, headers).json()["duplicates"] == 1
        # The payment intent's event is the same payment.
        intent = p.payment_intent(1, 2900, "eur", at, charge["id"], customer="cus_RxK2mN8vQ1")
        body, headers = p.signed(p.event("payment_intent.succeeded", intent, at, number=2), at)
        assert post(server, body, headers).json() | {"recorded": None} == {
            "received": True, "type": "payment_intent.succeeded", "recorded": None, "accepted": 0, "duplicates": 1,
            "unpriced": 0, "cost_usd": "0",
        }  # fmt: skip
        # The SDK asked Stripe with the restricted key for the balance transaction and the customer.
        paths = [path for path, _ in api.requests]
        assert f"/v1/balance_transactions/{txn['id']}" in paths and "/v1/customers/cus_RxK2mN8vQ1" in paths
        assert {auth for _, auth in api.requests} == {"Bearer rk_test_51Qcostledger"}
    (row,) = stored(server)
    assert (row["event_id"], row["user_id"], row["tier"], row["cost_source"]) == (
        f"stripe:{charge['id']}",
        "u_17",
        "creator",
        "reported",
    )
    assert json.loads(row["usage"]) == {"amount_usd": "31.47"}
    with server.client() as admin:
        margins = admin.get("/v1/margins").json()
    (month,) = margins["months"]
    (creator,) = month["plans"]
    assert (creator["plan"], creator["revenue_usd"], creator["fees_usd"]) == ("creator", "31.47", "2")
    assert (creator["fees_actual_usd"], creator["fees_estimated_usd"]) == ("2", "0")
    assert creator["currencies"] == [{"currency": "eur", "revenue": "29", "revenue_usd": "31.47"}]


def test_forged_tampered_stale_or_unsigned_deliveries_store_nothing(webhook_server: Start) -> None:
    server = webhook_server()
    at = now()
    charge = p.charge(2, 2900, "usd", at, metadata={"user_id": "u_2"})
    event = p.event("charge.succeeded", charge, at)
    forged_body, forged = p.signed(event, at, secret="whsec_someone_else")
    body, good = p.signed(event, at)
    stale_body, stale = p.signed(event, at - 301)  # Stripe's tolerance is 300 s
    cases = {
        "forged": (forged_body, forged),
        "tampered": (body.replace(b"2900", b"290000"), good),
        "stale": (stale_body, stale),
        "unsigned": (body, {"Content-Type": "application/json"}),
        "garbled header": (body, {"Stripe-Signature": "t=abc,v1="}),
    }
    for name, (content, headers) in cases.items():
        answer = post(server, content, headers)
        assert answer.status_code == 400, name
        assert answer.json()["detail"].startswith("nothing stored"), name
    assert stored(server) == []
    # Within the tolerance the same event is accepted: an hour-old clock is no replay at 299 s.
    body, headers = p.signed(event, at - 299)
    assert post(server, body, headers).json()["accepted"] == 1


def test_unknown_types_are_acknowledged_and_unusable_events_refused_with_the_field(webhook_server: Start) -> None:
    server = webhook_server()
    at = now()
    body, headers = p.signed(p.event("customer.subscription.updated", {"id": "sub_1", "object": "subscription"}, at),
                             at)  # fmt: skip
    answer = post(server, body, headers)
    assert answer.status_code == 200 and "ignored" in answer.json()
    broken = p.event("charge.succeeded", {**p.charge(3, 2900, "usd", at), "created": "soon"}, at)
    body, headers = p.signed(broken, at)
    answer = post(server, body, headers)
    assert answer.status_code == 422 and "data.object.created" in answer.json()["detail"]
    # An EUR charge without its balance transaction and without an API key: no USD value to guess.
    body, headers = p.signed(p.event("charge.succeeded", p.charge(4, 2900, "eur", at, txn="txn_unknown"), at), at)
    answer = post(server, body, headers)
    assert answer.status_code == 422 and "usd_rates" in answer.json()["detail"]
    body, headers = p.signed("not json", at)
    assert post(server, body, headers).status_code == 400
    body, headers = p.signed(json.dumps({"object": "list", "data": []}), at)
    assert post(server, body, headers).status_code == 400
    assert stored(server) == []


def test_stripe_unreachable_is_a_502_and_stripe_retries(webhook_server: Start) -> None:
    closed = free_port()
    server = webhook_server(stripe_extra=f'api_key = "rk_test_x"\napi_base = "http://127.0.0.1:{closed}"')
    at = now()
    charge, _ = eur_payment(at)
    body, headers = p.signed(p.event("charge.succeeded", charge, at), at)
    answer = post(server, body, headers)
    assert answer.status_code == 502 and answer.headers["retry-after"] == "60"
    assert "could not read balance transaction" in answer.json()["detail"]
    assert stored(server) == []


def test_without_a_secret_the_endpoint_is_not_enabled(webhook_server: Start) -> None:
    server = webhook_server(text="")
    at = now()
    body, headers = p.signed(p.event("charge.succeeded", p.charge(5, 2900, "usd", at), at), at)
    answer = post(server, body, headers)
    assert answer.status_code == 404 and "webhook_secret" in answer.json()["detail"]


def test_refunds_and_disputes_lower_the_revenue_of_the_plan_that_was_paid(webhook_server: Start) -> None:
    at = now()
    charge, txn = eur_payment(at)
    charge["metadata"] = {"user_id": "u_17", "plan": "creator"}
    back = p.balance_transaction(7, "re_3Q0000000000000000000007", -1071, 0, at, rate=1.0712, kind="refund")
    refund = p.refund(7, charge["id"], 1000, "eur", at, txn=back["id"])
    taken = p.balance_transaction(10, "du_3Q0000000000000000000010", -2076, 1500, at, kind="adjustment")
    with fake_stripe(txn, back, refund) as api:
        server = webhook_server(stripe_extra=f'api_key = "rk_test_x"\napi_base = "{api.url}"')
        for number, (kind, obj, extra) in enumerate([
            ("charge.succeeded", charge, {}),
            ("charge.refunded", {**charge, "amount_refunded": 1000}, {"previous_attributes": {"amount_refunded": 0}}),
            ("charge.dispute.created", p.dispute(10, charge["id"], 1900, "eur", at, [taken]), {}),
        ], start=1):  # fmt: skip
            body, headers = p.signed(p.event(kind, obj, at, number=number, **extra), at)
            answer = post(server, body, headers)
            assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    with server.client() as admin:
        (creator,) = admin.get("/v1/margins").json()["months"][0]["plans"]
    # 31.47 paid, 10.71 refunded (listed through the API with its own balance transaction),
    # 20.76 disputed with a $15 fee: net revenue −0.00 and fees 2.00 + 15.00, all Stripe's own.
    assert (creator["revenue_usd"], creator["refunds_usd"], creator["disputes_usd"]) == ("31.47", "10.71", "20.76")
    assert (creator["fees_actual_usd"], creator["fees_estimated_usd"]) == ("17", "0")
    assert D(creator["margin_usd"]) == D("31.47") - D("10.71") - D("20.76") - D("17")
