"""Stripe's objects become payment, refund and dispute events with Stripe's own money (pure converter).

Figures are Stripe's as a US account sees them, worked by hand from stripe.com/pricing:
a €29.00 charge on a German card, converted at 1.0853 → 29 × 1.0853 = 31.4737 → $31.47
(Stripe settles in whole cents). Fee: domestic 2.9 % + international 1.5 % + conversion
1 % = 5.4 % of 31.47 = 1.69938, plus $0.30 = 1.99938 → $2.00. Net 31.47 − 2.00 = $29.47.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from costledger.config import Plan
from costledger.webhook_settings import StripeSettings
from costledger.webhooks import NeedsData, StripeEvents, Unusable

from . import payloads as p

D = Decimal
AT = int(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC).timestamp())
EUR_TXN = p.balance_transaction(1, "ch_3Q0000000000000000000001", 3147, 200, AT, rate=1.0853)
CUSTOMER = "cus_RxK2mN8vQ1"


class Known:
    """A lookup backed by objects the test hands it (the webhook route uses Stripe's API)."""

    def __init__(self, *objects: Mapping[str, Any], recorded: Mapping[str, Any] | None = None) -> None:
        self.objects = {o["id"]: o for o in objects}
        self.recorded_events = dict(recorded or {})

    def charge(self, charge_id: str) -> Mapping[str, Any] | None:
        return self.objects.get(charge_id)

    def balance_transaction(self, txn_id: str) -> Mapping[str, Any] | None:
        return self.objects.get(txn_id)

    def customer(self, customer_id: str) -> Mapping[str, Any] | None:
        return self.objects.get(customer_id)

    def refunds(self, charge_id: str) -> Sequence[Mapping[str, Any]] | None:
        return None

    def payment_intent(self, intent_id: str) -> Mapping[str, Any] | None:
        return self.objects.get(intent_id)

    def invoice_payment(self, invoice_id: str) -> str | None:
        return self.objects.get(invoice_id, {}).get("paid_with")

    def recorded(self, event_id: str) -> Mapping[str, Any] | None:
        return self.recorded_events.get(event_id)


def eur_charge(txn: Any = EUR_TXN, **kwargs: Any) -> dict[str, Any]:
    return p.charge(1, 2900, "eur", AT, txn=txn, customer=CUSTOMER, country="DE", metadata={"user_id": "u_17"},
                    **kwargs)  # fmt: skip


def convert(event: dict[str, Any], lookup: Any = None, **settings: Any) -> list[dict[str, Any]]:
    plans = [Plan("creator", D("29"), tier="creator_tier"), Plan("professional", D("99"))]
    return StripeEvents(StripeSettings(**settings), plans, lookup).events(event)


def test_a_foreign_card_in_eur_records_stripes_usd_amount_fee_and_net() -> None:
    (event,) = convert(p.event("charge.succeeded", eur_charge(), AT))
    assert event["event_id"] == "stripe:ch_3Q0000000000000000000001"
    # The catalog's model names Stripe's surcharges: a German card (+1.5 %) converted from EUR (+1 %).
    assert (event["service"], event["model"], event["operation"]) == ("stripe", "card-international-conversion",
                                                                      "payment")  # fmt: skip
    assert event["usage"] == {"amount_usd": D("31.47")}
    assert event["cost_usd"] == D("2.00")
    assert event["user_id"] == "u_17"
    assert event["ts"] == dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    facts = event["metadata"]["stripe"]
    assert (facts["currency"], facts["amount"], facts["card_country"]) == ("eur", "29.00", "DE")
    assert (facts["fee_source"], facts["exchange_rate"], facts["net_usd"]) == ("balance_transaction", "1.0853", "29.47")
    assert facts["event"] == "evt_3Q0000000000000000000001" and facts["type"] == "charge.succeeded"


def test_a_balance_transaction_named_by_id_is_read_through_the_lookup() -> None:
    (event,) = convert(p.event("charge.succeeded", eur_charge(txn=EUR_TXN["id"]), AT), Known(EUR_TXN))
    assert (event["usage"]["amount_usd"], event["cost_usd"]) == (D("31.47"), D("2.00"))


def test_without_the_balance_transaction_a_foreign_currency_needs_a_rate() -> None:
    with pytest.raises(NeedsData, match=r"usd_rates = \{ eur"):
        convert(p.event("charge.succeeded", eur_charge(txn=EUR_TXN["id"]), AT))
    # With a configured rate the USD amount is an estimate and the fee is left to the catalog.
    (event,) = convert(p.event("charge.succeeded", eur_charge(txn=None), AT), usd_rates={"eur": D("1.08")})
    assert event["usage"] == {"amount_usd": D("31.32")}  # 29 × 1.08
    assert "cost_usd" not in event
    assert event["metadata"]["stripe"]["fee_source"] == "estimated"


def test_a_usd_charge_whose_balance_transaction_is_not_yet_made_is_exact_in_usd_with_an_estimated_fee() -> None:
    # Asynchronous capture (Stripe's default): balance_transaction is null in charge.succeeded.
    (event,) = convert(p.event("charge.succeeded", p.charge(2, 2900, "usd", AT, customer=CUSTOMER), AT),
                       Known({"id": CUSTOMER, "object": "customer", "metadata": {"user_id": "u_9"}}))  # fmt: skip
    assert event["usage"] == {"amount_usd": D("29.00")} and "cost_usd" not in event
    assert event["user_id"] == "u_9"  # from the customer's metadata


def test_a_zero_decimal_currency_is_read_in_its_own_unit() -> None:
    txn = p.balance_transaction(3, "ch_3Q0000000000000000000003", 1932, 86, AT, rate=0.00666)
    (event,) = convert(p.event("charge.succeeded", p.charge(3, 2900, "jpy", AT, txn=txn), AT))
    assert event["metadata"]["stripe"]["amount"] == "2900"  # ¥2,900, not ¥29.00
    assert (event["usage"]["amount_usd"], event["cost_usd"]) == (D("19.32"), D("0.86"))


def test_an_uncaptured_charge_moves_no_money_until_it_is_captured() -> None:
    held = eur_charge(captured=False)
    assert convert(p.event("charge.succeeded", held, AT)) == []
    (event,) = convert(p.event("charge.captured", eur_charge(), AT))
    assert event["event_id"] == "stripe:ch_3Q0000000000000000000001"


def test_a_payment_intent_is_the_same_payment_as_its_charge() -> None:
    charge = eur_charge(intent="pi_3Q0000000000000000000001")
    by_charge = convert(p.event("charge.succeeded", charge, AT))
    # Current API: latest_charge is an id, read through the lookup.
    intent = p.payment_intent(1, 2900, "eur", AT, charge["id"], customer=CUSTOMER)
    by_intent = convert(p.event("payment_intent.succeeded", intent, AT, number=2), Known(charge))
    assert by_intent[0]["event_id"] == by_charge[0]["event_id"]
    assert by_intent[0]["cost_usd"] == D("2.00")
    assert by_intent[0]["metadata"]["stripe"]["payment_intent"] == intent["id"]
    # Before 2022-11-15 the intent embeds its charges.
    old = {**intent, "latest_charge": None, "charges": {"object": "list", "data": [charge], "has_more": False}}
    assert convert(p.event("payment_intent.succeeded", old, AT))[0]["usage"] == {"amount_usd": D("31.47")}


def test_a_payment_intent_alone_gives_the_amount_and_leaves_the_fee_to_the_catalog() -> None:
    intent = p.payment_intent(4, 9900, "usd", AT, "ch_3Q0000000000000000000004", metadata={"user_id": "u_4"})
    (event,) = convert(p.event("payment_intent.succeeded", intent, AT))
    assert event["event_id"] == "stripe:ch_3Q0000000000000000000004"
    assert event["usage"] == {"amount_usd": D("99.00")} and "cost_usd" not in event
    assert event["user_id"] == "u_4"


@pytest.mark.parametrize("old_api", [False, True], ids=["api-2026", "api-before-2025-03-31"])
def test_an_invoice_names_user_and_plan_through_the_subscription_and_price(old_api: bool) -> None:
    txn = p.balance_transaction(5, "ch_3Q0000000000000000000005", 2900, 114, AT)  # 29 × 2.9 % + 0.30 = 1.141 → 1.14
    charge = p.charge(5, 2900, "usd", AT, txn=txn, customer=CUSTOMER, intent="pi_3Q0000000000000000000005")
    intent = p.payment_intent(5, 2900, "usd", AT, charge, customer=CUSTOMER)
    invoice = p.invoice(5, 2900, "usd", AT, customer=CUSTOMER, price="price_1QcreatorM", product="prod_Creator",
                        subscription="sub_1Q5", user_id="u_5", old_api=old_api, charge_id=charge["id"])  # fmt: skip
    lookup = Known(charge, intent, {"id": invoice["id"], "paid_with": intent["id"]})
    (event,) = convert(p.event("invoice.paid", invoice, AT), lookup, plans={"price_1QcreatorM": "creator"})
    assert event["event_id"] == f"stripe:{charge['id']}"
    assert (event["user_id"], event["tier"]) == ("u_5", "creator_tier")  # the plan's tier label
    facts = event["metadata"]["stripe"]
    assert (facts["plan"], facts["invoice"], facts["subscription"]) == ("creator", invoice["id"], "sub_1Q5")
    assert event["cost_usd"] == D("1.14")
    # A product id maps as well as a price id.
    (by_product,) = convert(p.event("invoice.paid", invoice, AT), lookup, plans={"prod_Creator": "professional"})
    assert by_product["tier"] == "professional"


def test_an_invoice_that_moved_no_money_records_nothing_and_one_without_its_payment_asks_for_the_api() -> None:
    invoice = p.invoice(6, 0, "usd", AT, customer=CUSTOMER, price="price_x", product="prod_x", subscription="sub_6",
                        user_id="u_6")  # fmt: skip
    assert convert(p.event("invoice.paid", invoice, AT)) == []
    unpaid = {**invoice, "amount_paid": 2900}
    with pytest.raises(NeedsData, match="api_key"):
        convert(p.event("invoice.paid", unpaid, AT))


def test_refunds_listed_on_the_charge_leave_at_their_own_rate_with_no_fee() -> None:
    # Before 2022-11-15 charge.refunded embeds the refunds. €10 back at 1.0712: 10.712 → $10.71.
    back = p.balance_transaction(7, "re_3Q0000000000000000000007", -1071, 0, AT + 3600, rate=1.0712, kind="refund")
    refund = p.refund(7, "ch_3Q0000000000000000000001", 1000, "eur", AT + 3600, txn=back)
    charge = eur_charge(refunded=1000) | {"refunds": {"object": "list", "data": [refund], "has_more": False}}
    recorded = {"stripe:ch_3Q0000000000000000000001": {"user_id": "u_17", "tier": "creator_tier",
                                                       "metadata": {"stripe": {"plan": "creator"}}}}  # fmt: skip
    (event,) = convert(p.event("charge.refunded", charge, AT + 3600), Known(recorded=recorded))
    assert (event["event_id"], event["operation"]) == ("stripe:re_3Q0000000000000000000007", "refund")
    assert (event["usage"], event["cost_usd"]) == ({"amount_usd": D("10.71")}, D("0"))
    assert (event["user_id"], event["tier"]) == ("u_17", "creator_tier")  # as the payment was recorded
    assert event["metadata"]["stripe"]["amount"] == "10.00"


def test_refunds_without_their_list_are_named_by_the_charges_running_total() -> None:
    # Current API: no refunds on the charge; previous_attributes say what was refunded before.
    charge = p.charge(8, 2900, "usd", AT, customer=CUSTOMER, metadata={"user_id": "u_8"}, refunded=1000)
    first = p.event("charge.refunded", charge, AT + 60, number=8, previous_attributes={"amount_refunded": 0})
    second = p.event("charge.refunded", {**charge, "amount_refunded": 2900}, AT + 120, number=9,
                     previous_attributes={"amount_refunded": 1000})  # fmt: skip
    (a,) = convert(first)
    (b,) = convert(second)
    assert (a["event_id"], a["usage"]["amount_usd"]) == ("stripe:ch_3Q0000000000000000000008:refunded:1000", D("10"))
    assert (b["event_id"], b["usage"]["amount_usd"]) == ("stripe:ch_3Q0000000000000000000008:refunded:2900", D("19"))
    assert b["ts"] == dt.datetime.fromtimestamp(AT + 120, dt.UTC) and b["user_id"] == "u_8"
    with pytest.raises(NeedsData, match="list the refunds"):
        convert(p.event("charge.refunded", charge, AT + 60))


def test_a_dispute_records_the_money_taken_and_the_fee_and_a_won_one_gives_both_back() -> None:
    taken = p.balance_transaction(10, "du_3Q0000000000000000000010", -3147, 1500, AT + 86400, kind="adjustment",
                                  description="Dispute fee")  # fmt: skip
    returned = p.balance_transaction(11, "du_3Q0000000000000000000010", 3147, -1500, AT + 9 * 86400,
                                     kind="adjustment", description="Dispute fee refund")  # fmt: skip
    recorded = {"stripe:ch_3Q0000000000000000000001": {"user_id": "u_17", "tier": "creator_tier", "metadata": {}}}
    opened = p.dispute(10, "ch_3Q0000000000000000000001", 2900, "eur", AT + 86400, [taken])
    (withdrawn,) = convert(p.event("charge.dispute.created", opened, AT + 86400), Known(recorded=recorded))
    assert (withdrawn["event_id"], withdrawn["operation"]) == (f"stripe:{taken['id']}", "dispute")
    assert (withdrawn["usage"], withdrawn["cost_usd"]) == ({"amount_usd": D("31.47")}, D("15.00"))
    assert withdrawn["user_id"] == "u_17"
    won = {**opened, "status": "won", "balance_transactions": [taken, returned]}
    both = convert(p.event("charge.dispute.closed", won, AT + 9 * 86400), Known(recorded=recorded))
    assert [e["event_id"] for e in both] == [f"stripe:{taken['id']}", f"stripe:{returned['id']}"]
    reinstated = both[1]
    assert (reinstated["operation"], reinstated["cost_usd"]) == ("dispute_reversal", D("0"))
    assert reinstated["metadata"]["stripe"]["fee_returned_usd"] == "15.00"


def test_other_event_types_are_not_recorded_and_broken_objects_name_their_field() -> None:
    assert convert(p.event("customer.created", {"id": CUSTOMER, "object": "customer"}, AT)) == []
    with pytest.raises(Unusable, match=r"data\.object"):
        convert({**p.event("charge.succeeded", eur_charge(), AT), "data": {}})
    with pytest.raises(Unusable, match=r"data\.object\.created"):
        convert(p.event("charge.succeeded", {**eur_charge(), "created": "yesterday"}, AT))
    bad_rate = {**EUR_TXN, "exchange_rate": "lots"}
    with pytest.raises(Unusable, match="exchange_rate"):
        convert(p.event("charge.succeeded", eur_charge(txn=bad_rate), AT))
    with pytest.raises(Unusable, match=r"data\.object\.amount"):
        convert(p.event("charge.succeeded", {**eur_charge(), "amount": 1.5, "amount_captured": None}, AT))


@pytest.mark.parametrize(
    ("country", "currency", "model"),
    [("US", "usd", "card"), ("CA", "usd", "card-international"), ("US", "eur", "card-conversion"),
     ("GB", "gbp", "card-international-conversion")],
)  # fmt: skip
def test_a_cards_model_names_the_surcharges_stripe_adds(country: str, currency: str, model: str) -> None:
    charge = p.charge(13, 2900, currency, AT, country=country, metadata={"user_id": "u"})
    (event,) = convert(p.event("charge.succeeded", charge, AT), usd_rates={"eur": D("1.08"), "gbp": D("1.27")})
    assert event["model"] == model


def test_users_fall_back_to_the_configured_customer_map() -> None:
    charge = p.charge(12, 9900, "usd", AT, customer="cus_mapped")
    (event,) = convert(p.event("charge.succeeded", charge, AT), customers={"cus_mapped": "u_mapped"})
    assert event["user_id"] == "u_mapped"
