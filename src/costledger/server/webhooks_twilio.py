"""POST /v1/webhooks/twilio: completed calls as phone minutes, priced from the catalog.

No API key: the request is authenticated by its X-Twilio-Signature, made with the account's
auth token (`[twilio] auth_token` or $COSTLEDGER_TWILIO_AUTH_TOKEN). A bad signature is 400
and stores nothing. Set this URL as the call's status callback (StatusCallback on a call,
or on the phone number for inbound calls), with the `completed` event.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ..ledger import Ledger
from ..webhooks import BadSignature, Unusable, call_event, verify_twilio
from ..webhooks.sources import stored_session
from .deps import LedgerDep
from .events import read_capped
from .metrics import record_counted
from .schemas import errors
from .webhooks_stripe import MAX_WEBHOOK_BYTES

router = APIRouter(tags=["webhooks"])


def form_of(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the body is not a form (application/x-www-form-urlencoded, UTF-8)") from None
    return dict(pairs)


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: the configured public address with this request's query, else this request's URL."""
    if public_url is None:
        return str(request.url)
    query = request.url.query
    return f"{public_url}?{query}" if query else public_url


def record_call(ledger: Ledger, params: dict[str, str]) -> dict[str, Any]:
    settings = ledger.config.twilio
    try:
        named = params.get(settings.session_parameter, "").strip()
        event = call_event(params, settings, stored_session(ledger, settings.session_prefix + named) if named else None)
    except Unusable as exc:
        raise HTTPException(422, f"nothing stored: {exc}") from None
    if event is None:
        status = params.get("CallStatus")
        return {"received": True, "ignored": f"CallStatus {status!r}: only completed calls are billed"}
    recorded = record_counted(ledger, [event])
    return {"received": True, "recorded": [event["event_id"]], **recorded.as_dict()}


@router.post(
    "/v1/webhooks/twilio",
    summary="Twilio call status callback: completed calls become phone minutes",
    description="Set as a call's StatusCallback (or the number's Call Status Changes URL) with the `completed` "
    "event. Authenticated by `X-Twilio-Signature` (the account's auth token in `[twilio] auth_token`). A "
    "completed call records `phone_minutes` (its duration rounded up to the minute) for the session named by "
    "`[twilio] session_parameter` (default the CallSid), priced by direction from the catalog. The CallSid is "
    "the event id: a retried or replayed callback counts once. Other statuses are acknowledged and ignored.",
    responses={
        **errors(404, 413, 422),
        400: {"description": "bad or missing signature, or not a form: nothing stored"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {}}}},
)
async def post_twilio(request: Request, ledger: LedgerDep) -> dict[str, Any]:
    settings = ledger.config.twilio
    token = settings.token()
    if token is None:
        raise HTTPException(404, "Twilio webhooks are not enabled: set [twilio] auth_token in costledger.toml "
                            "or $COSTLEDGER_TWILIO_AUTH_TOKEN")  # fmt: skip
    body = await read_capped(request, MAX_WEBHOOK_BYTES)
    form = form_of(body)
    try:
        verify_twilio(signed_url(request, settings.public_url), form, request.headers.get("x-twilio-signature"), token,
                      request.headers.get("x-twilio-webhooks-signature-settings"))  # fmt: skip
    except BadSignature as exc:
        raise HTTPException(400, f"nothing stored: {exc}") from None
    # The callback URL's own query (`?session_id=room-42`) can name the session; the signature covers it.
    params = {**dict(parse_qsl(request.url.query, keep_blank_values=True)), **form}
    return await run_in_threadpool(record_call, ledger, params)
