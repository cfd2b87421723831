"""Stripe and Twilio payloads in their real shapes, signed as the providers sign them.

Shapes follow Stripe's API reference objects (charge, balance transaction, refund, dispute,
payment intent, invoice) in the current API version (2026-10-28, the one the installed
`stripe` package speaks) and, where an older version differs, in that one too: charges with
embedded `refunds` (before 2022-11-15), payment intents with embedded `charges` (same),
invoices with `subscription`, `charge` and line `price` (before 2025-03-31). Twilio's call
status callback parameters are those of its StatusCallback documentation.

Signatures are made with the packages' own helpers: `stripe.WebhookSignature.
generate_signature_header` and twilio's `RequestValidator.compute_signature`.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from twilio.request_validator import RequestValidator

STRIPE_SECRET = "whsec_test_5f1b0c2d9e8a7b6c5d4e3f2a1b0c9d8e"
TWILIO_TOKEN = "12345678901234567890123456789012"
API_VERSION = "2026-10-28.endive"


def event(kind: str, obj: dict[str, Any], created: int, number: int = 1, **data: Any) -> dict[str, Any]:
    return {
        "id": f"evt_3Q{number:022d}",
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj, **data},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{number:014d}", "idempotency_key": None},
        "type": kind,
    }


def signed(body: dict[str, Any] | str, at: int, secret: str = STRIPE_SECRET) -> tuple[bytes, dict[str, str]]:
    """The body as Stripe sends it and its Stripe-Signature header, signed at `at`."""
    text = body if isinstance(body, str) else json.dumps(body, indent=2)  # Stripe pretty-prints its bodies
    header = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=at)
    return text.encode(), {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def balance_transaction(
    number: int, source: str, amount: int, fee: int, created: int, *, rate: float | None = None,
    kind: str = "charge", currency: str = "usd", description: str = "Stripe processing fees",
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"txn_3Q{number:022d}",
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 2 * 86400,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": None,
        "exchange_rate": rate,
        "fee": fee,
        "fee_details": [
            {"amount": fee, "application": None, "currency": currency, "description": description,
             "type": "stripe_fee"},
        ] if fee else [],
        "net": amount - fee,
        "reporting_category": kind if kind != "adjustment" else "dispute",
        "source": source,
        "status": "pending",
        "type": kind,
    }  # fmt: skip


def charge(
    number: int, amount: int, currency: str, created: int, *, txn: Any = None, customer: str | None = None,
    metadata: dict[str, str] | None = None, country: str = "US", intent: str | None = None,
    captured: bool = True, refunded: int = 0,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"ch_3Q{number:022d}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": txn,
        "billing_details": {"address": {"city": None, "country": country, "line1": None, "line2": None,
                                        "postal_code": None, "state": None},
                            "email": None, "name": "Jenny Rosen", "phone": None},
        "calculated_statement_descriptor": "COUNCIL",
        "captured": captured,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata or {},
        "outcome": {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                    "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"},
        "paid": True,
        "payment_intent": intent,
        "payment_method": f"pm_1Q{number:022d}",
        "payment_method_details": {
            "card": {"amount_authorized": amount, "brand": "visa", "checks": {"address_line1_check": None,
                     "address_postal_code_check": None, "cvc_check": "pass"}, "country": country,
                     "exp_month": 8, "exp_year": 2030, "fingerprint": "Xt5EWLLDS7FJjR1c", "funding": "credit",
                     "last4": "4242", "network": "visa", "three_d_secure": None, "wallet": None},
            "type": "card",
        },
        "receipt_url": None,
        "refunded": refunded >= amount > 0,
        "review": None,
        "status": "succeeded",
    }  # fmt: skip


def refund(number: int, charge_id: str, amount: int, currency: str, created: int, txn: Any = None,
           status: str = "succeeded") -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"re_3Q{number:022d}",
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": None,
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def dispute(number: int, charge_id: str, amount: int, currency: str, created: int, txns: list[Any],
            status: str = "needs_response") -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"du_3Q{number:022d}",
        "object": "dispute",
        "amount": amount,
        "balance_transactions": txns,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "evidence_details": {"due_by": created + 7 * 86400, "has_evidence": False, "past_due": False,
                             "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": None,
        "reason": "fraudulent",
        "status": status,
    }  # fmt: skip


def payment_intent(number: int, amount: int, currency: str, created: int, latest_charge: Any,
                   customer: str | None = None, metadata: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"pi_3Q{number:022d}",
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "capture_method": "automatic_async",
        "client_secret": f"pi_3Q{number:022d}_secret_x",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": metadata or {},
        "payment_method": f"pm_1Q{number:022d}",
        "payment_method_types": ["card"],
        "status": "succeeded",
    }


def invoice(number: int, amount: int, currency: str, created: int, *, customer: str, price: str, product: str,
            subscription: str, user_id: str | None, old_api: bool = False, charge_id: str | None = None
            ) -> dict[str, Any]:  # fmt: skip
    line: dict[str, Any] = {
        "id": f"il_1Q{number:022d}", "object": "line_item", "amount": amount, "currency": currency,
        "description": "1 × Creator (at $29.00 / month)", "quantity": 1,
        "period": {"end": created + 30 * 86400, "start": created},
    }  # fmt: skip
    meta = {"user_id": user_id} if user_id else {}
    out: dict[str, Any] = {
        "id": f"in_1Q{number:022d}",
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "status": "paid",
        "total": amount,
    }
    if old_api:
        line.update(price={"id": price, "object": "price", "product": product, "unit_amount": amount})
        out.update(subscription=subscription, charge=charge_id, payment_intent=None,
                   subscription_details={"metadata": meta})  # fmt: skip
    else:
        line.update(pricing={"price_details": {"price": price, "product": product}, "type": "price_details",
                             "unit_amount_decimal": str(amount)},
                    parent={"subscription_item_details": {"subscription": subscription}, "type":
                            "subscription_item_details"})  # fmt: skip
        out["parent"] = {"quote_details": None, "subscription_details": {"metadata": meta,
                         "subscription": subscription}, "type": "subscription_details"}  # fmt: skip
    out["lines"] = {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                    "url": f"/v1/invoices/in_1Q{number:022d}/lines"}  # fmt: skip
    return out


def call(sid: int, status: str, direction: str, seconds: int | None, when: str, **extra: str) -> dict[str, str]:
    """A call status callback's form parameters (Twilio StatusCallback)."""
    params = {
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": f"CA{sid:032x}",
        "CallStatus": status,
        "Called": "+14155550100",
        "Caller": "+4930901820",
        "CallbackSource": "call-progress-events",
        "Direction": direction,
        "From": "+4930901820",
        "SequenceNumber": "3",
        "SipResponseCode": "200",
        "Timestamp": when,
        "To": "+14155550100",
        **extra,
    }
    if seconds is not None:
        params["CallDuration"] = str(seconds)
        params["Duration"] = str(-(-seconds // 60))
    return params


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
