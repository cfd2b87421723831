"""POST /v1/webhooks/stripe: payments, refunds and disputes with Stripe's own amounts and fees.

No API key: the request is authenticated by its Stripe-Signature, made with the endpoint's
signing secret (`[stripe] webhook_secret` or $COSTLEDGER_STRIPE_WEBHOOK_SECRET). A bad or
stale signature is 400 and stores nothing; an event type costledger does not record is
acknowledged (200) so Stripe stops sending it again.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ..ledger import Ledger
from ..webhooks import HANDLED, BadSignature, NeedsData, SourceUnavailable, Unusable, verify_stripe
from ..webhooks.sources import stripe_events
from .deps import LedgerDep
from .events import read_capped
from .metrics import record_counted
from .schemas import errors

router = APIRouter(tags=["webhooks"])

MAX_WEBHOOK_BYTES = 1024 * 1024  # Stripe's events are a few kilobytes; a megabyte is generous


def parse_stripe_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise HTTPException(400, "the body is not a JSON Stripe event") from None
    if not isinstance(event, dict) or event.get("object") != "event" or not isinstance(event.get("type"), str):
        raise HTTPException(400, 'the body is not a Stripe event ({"object": "event", "type": …})')
    return event


def record_stripe_event(ledger: Ledger, event: dict[str, Any]) -> dict[str, Any]:
    """Store what one verified Stripe event says (runs on a worker thread: it may ask Stripe's API)."""
    try:
        found = stripe_events(ledger).events(event)
    except NeedsData as exc:
        raise HTTPException(422, f"nothing stored: {exc}") from None
    except Unusable as exc:
        raise HTTPException(422, f"nothing stored: this {event['type']} event's {exc}") from None
    except SourceUnavailable as exc:
        # Not the sender's fault: Stripe redelivers an event that was not answered 2xx.
        raise HTTPException(502, f"nothing stored: {exc}", headers={"Retry-After": "60"}) from None
    recorded = record_counted(ledger, found)
    return {
        "received": True,
        "type": event["type"],
        "recorded": [e["event_id"] for e in found],
        **recorded.as_dict(),
    }


@router.post(
    "/v1/webhooks/stripe",
    summary="Stripe webhook: payments, refunds and disputes with their real fees",
    description="Point a Stripe webhook endpoint here and subscribe it to `charge.succeeded`, "
    "`charge.captured`, `payment_intent.succeeded`, `invoice.paid`, `charge.refunded` and "
    "`charge.dispute.*`. Authenticated by the `Stripe-Signature` header (the endpoint's signing secret in "
    "`[stripe] webhook_secret`); a signature older than `[stripe] tolerance_seconds` (300) is a replay and "
    "refused. One payment is one event whichever of those announce it (its id is the charge's), so retries "
    "and overlapping event types count once. Other event types are acknowledged and ignored.",
    responses={
        **errors(404, 413, 422),
        400: {"description": "bad, missing or stale signature, or not a Stripe event: nothing stored"},
        502: {"description": "Stripe's API did not answer what the event names: nothing stored, Stripe retries"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}},
)
async def post_stripe(request: Request, ledger: LedgerDep) -> dict[str, Any]:
    settings = ledger.config.stripe
    secret = settings.secret()
    if secret is None:
        raise HTTPException(404, "Stripe webhooks are not enabled: set [stripe] webhook_secret in costledger.toml "
                            "or $COSTLEDGER_STRIPE_WEBHOOK_SECRET")  # fmt: skip
    body = await read_capped(request, MAX_WEBHOOK_BYTES)
    try:
        verify_stripe(body, request.headers.get("stripe-signature"), secret, settings.tolerance_seconds)
    except BadSignature as exc:
        raise HTTPException(400, f"nothing stored: {exc}") from None
    event = parse_stripe_event(body)
    if event["type"] not in HANDLED:
        return {"received": True, "type": event["type"], "ignored": "costledger does not record this event type"}
    return await run_in_threadpool(record_stripe_event, ledger, event)
