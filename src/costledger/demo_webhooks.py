"""The demo's Stripe and Twilio: the webhooks they would send for the demo product's money and calls.

The demo records its payments and phone calls the way a real deployment does, through
`costledger.webhooks`: each payment is a `charge.succeeded` event whose balance transaction
carries the fee Stripe would take, so the margins show real fees, currencies and refunds.

Stripe's side is simulated with its published US rules (stripe.com/pricing): 2.9 % + $0.30 a
card charge, +1.5 % for a card issued outside the US, +1 % when the charge is converted, the
fee rounded to the cent per charge; a dispute costs $15.00, returned when it is won.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .webhook_settings import StripeSettings, TwilioSettings
from .webhooks import StripeEvents, call_event

# What customers pay in, from where: (currency, card country, share of payers, USD per unit).
PAYERS = (("usd", "US", 0.70, None), ("usd", "CA", 0.05, None), ("eur", "DE", 0.15, Decimal("1.0853")),
          ("gbp", "GB", 0.10, Decimal("1.2710")))  # fmt: skip
DISPUTE_FEE_CENTS = 1500
STRIPE = StripeEvents(StripeSettings())  # the demo's events carry everything: no lookups
TWILIO = TwilioSettings(session_parameter="session_id")  # the callback URL names the demo's session


def payer(seed: int, user_id: str, tier: str) -> tuple[str, str, Decimal | None]:
    """The currency and card country a user pays with (API calls are billed in USD)."""
    if tier == "api":
        return "usd", "US", None
    rng = random.Random(f"costledger-demo-payer:{seed}:{user_id}")
    currency, country, _, rate = rng.choices(PAYERS, [share for *_, share, _ in PAYERS])[0]
    return currency, country, rate


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _unix(at: dt.datetime) -> int:
    return int(at.timestamp())


def _event(kind: str, obj: dict[str, Any], at: dt.datetime, event_id: str) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": kind, "created": _unix(at), "livemode": False,
            "data": {"object": obj}}  # fmt: skip


def _txn(txn_id: str, source: str, amount: int, fee: int, at: dt.datetime, rate: Any) -> dict[str, Any]:
    return {"id": txn_id, "object": "balance_transaction", "amount": amount, "fee": fee, "net": amount - fee,
            "currency": "usd", "exchange_rate": None if rate is None else str(rate), "created": _unix(at),
            "fee_details": [{"amount": fee, "currency": "usd", "type": "stripe_fee"}], "source": source,
            "type": "charge" if amount >= 0 else "adjustment"}  # fmt: skip


def charge(charge_id: str, at: dt.datetime, amount: Decimal, payer: tuple[str, str, Decimal | None],
           user_id: str, plan: str) -> dict[str, Any]:  # fmt: skip
    """The charge Stripe makes: amount in the customer's currency, its balance transaction in USD."""
    currency, country, rate = payer
    usd_cents = _cents(amount * 100 * (rate or 1))
    percent = Decimal("2.9") + (Decimal("1.5") if country != "US" else 0) + (1 if currency != "usd" else 0)
    fee = _cents(usd_cents * percent / 100 + 30)
    return {
        "id": charge_id, "object": "charge", "amount": _cents(amount * 100), "amount_captured": _cents(amount * 100),
        "currency": currency, "created": _unix(at), "captured": True, "status": "succeeded",
        "metadata": {"user_id": user_id, "plan": plan},
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "country": country}},
        "balance_transaction": _txn("txn_" + charge_id[3:], charge_id, usd_cents, fee, at, rate),
    }  # fmt: skip


def payment_events(seed: int, paid: dict[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    """The events of a payment as its webhooks deliver them, and of a refund or dispute that may follow."""
    at = dt.datetime.fromtimestamp(paid["created"], dt.UTC)
    rng = random.Random(f"costledger-demo-stripe:{seed}:{paid['id']}")
    out = STRIPE.events(_event("charge.succeeded", paid, at, "evt_" + paid["id"]))
    txn = paid["balance_transaction"]
    roll = rng.random()
    if roll < 0.03:  # asked for their money back two days later
        when = at + dt.timedelta(days=2)
        refund = {"id": "re_" + paid["id"][3:], "object": "refund", "amount": paid["amount"], "status": "succeeded",
                  "currency": paid["currency"], "created": _unix(when), "reason": "requested_by_customer",
                  "balance_transaction": _txn("txn_re_" + paid["id"][3:], paid["id"], -txn["amount"], 0, when,
                                              txn["exchange_rate"])}  # fmt: skip
        refunded = {**paid, "amount_refunded": paid["amount"], "refunds": {"object": "list", "data": [refund]}}
        if when <= now:
            out += STRIPE.events(_event("charge.refunded", refunded, when, "evt_re_" + paid["id"]))
    elif roll < 0.04:  # disputed five days later; half of them won ten days after that
        opened, closed = at + dt.timedelta(days=5), at + dt.timedelta(days=15)
        txns = [_txn("txn_du_" + paid["id"][3:], paid["id"], -txn["amount"], DISPUTE_FEE_CENTS, opened, None)]
        dispute = {"id": "du_" + paid["id"][3:], "object": "dispute", "charge": paid, "amount": paid["amount"],
                   "currency": paid["currency"], "status": "needs_response", "reason": "fraudulent",
                   "balance_transactions": txns}  # fmt: skip
        if opened <= now:
            out += STRIPE.events(_event("charge.dispute.created", dispute, opened, "evt_du_" + paid["id"]))
        if rng.random() < 0.5 and closed <= now:
            txns = [*txns, _txn("txn_dw_" + paid["id"][3:], paid["id"], txn["amount"], -DISPUTE_FEE_CENTS, closed,
                                None)]  # fmt: skip
            won = {**dispute, "status": "won", "balance_transactions": txns}
            out += STRIPE.events(_event("charge.dispute.closed", won, closed, "evt_dw_" + paid["id"]))
    return out


def phone_call(session: dict[str, Any], ended: dt.datetime, seconds: float) -> dict[str, Any] | None:
    """The Twilio status callback of an inbound call that lasted `seconds`, as a phone-minutes event."""
    sid = "CA" + hashlib.sha256(session["session_id"].encode()).hexdigest()[:32]
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "CallStatus": "completed", "Direction": "inbound",
              "CallDuration": str(int(seconds)), "Timestamp": ended.strftime("%a, %d %b %Y %H:%M:%S +0000"),
              "session_id": session["session_id"]}  # fmt: skip
    event = call_event(params, TWILIO, session)
    if event is not None:
        event["tags"] = session.get("tags", {})
    return event


__all__ = ["charge", "payer", "payment_events", "phone_call"]
