"""A Twilio call status callback as a phone-minutes event (pure).

Twilio bills a voice call per minute, each call's duration rounded up, at a rate that
depends on its direction: `inbound` (someone called your number) or outbound
(`outbound-api`, a call your code placed; `outbound-dial`, a leg a <Dial> opened, billed
as its own call with its own CallSid). Only the `completed` callback carries the billed
duration (`CallDuration`, seconds); the other statuses are acknowledged and ignored.

The CallSid is the event id (`twilio:CA…`), so Twilio's retries of a callback, or the
same callback replayed, count once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping
from typing import Any

from ..webhook_settings import TwilioSettings
from .problems import Unusable

SERVICE = "twilio"
# Catalog models per direction: Twilio Programmable Voice's inbound and outbound minutes.
MODELS = {"inbound": "voice-inbound", "outbound": "voice-outbound"}
_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
MAX_CALL_SECONDS = 14 * 24 * 3600  # far beyond Twilio's 24-hour call limit: anything more is not a call


def direction_of(value: str) -> str:
    if value == "inbound":
        return "inbound"
    if value.startswith("outbound"):
        return "outbound"
    raise Unusable("Direction", f"expected inbound, outbound-api or outbound-dial, got {value!r}")


def call_event(
    params: Mapping[str, str], settings: TwilioSettings, session: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The event of a completed call (None for other statuses).

    `params` are the callback's form parameters with the callback URL's query parameters
    (the URL's `?session_id=…` can name the session); `session` is the stored session it
    names, whose user, tier and mode the call inherits.
    """
    if params.get("CallStatus") != "completed":
        return None
    sid = params.get("CallSid", "")
    if not _SID.match(sid):
        raise Unusable("CallSid", f"expected CA and 32 hex digits, got {sid[:80]!r}")
    duration = params.get("CallDuration", "")
    if not duration.isascii() or not duration.isdigit() or int(duration) > MAX_CALL_SECONDS:
        raise Unusable("CallDuration", f"expected the call's seconds, got {duration[:80]!r}")
    seconds = int(duration)
    direction = direction_of(params.get("Direction", ""))
    named = params.get(settings.session_parameter, "").strip()
    if not named:
        raise Unusable(settings.session_parameter, "names the call's session ([twilio] session_parameter) but is empty")
    event: dict[str, Any] = {
        "event_id": f"twilio:{sid}",
        "service": SERVICE,
        "model": MODELS[direction],
        "operation": "phone",
        # Billed per call, each rounded up to the whole minute.
        "usage": {"phone_minutes": -(-seconds // 60)},
        "session_id": settings.session_prefix + named,
        "metadata": {
            "twilio": {
                key: params[key]
                for key in ("CallSid", "AccountSid", "ParentCallSid", "Direction", "CallDuration", "ApiVersion")
                if params.get(key)
            }
        },
    }
    when = _timestamp(params.get("Timestamp"))
    if when is not None:
        event["ts"] = when
    fields = dict(session or {})
    for key in ("user_id", "tier", "mode"):
        if fields.get(key):
            event[key] = fields[key]
    if "mode" not in event and settings.mode:
        event["mode"] = settings.mode
    return event


def _timestamp(value: str | None) -> dt.datetime | None:
    """Twilio's `Timestamp` (RFC 2822, UTC); None when absent (the ledger's clock then dates the call)."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise Unusable("Timestamp", f"expected an RFC 2822 time such as 'Mon, 16 Aug 2010 03:45:01 +0000', got "
                       f"{value[:80]!r}") from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # RFC 2822's -0000: UTC, source unknown
    return moment


__all__ = ["MODELS", "SERVICE", "call_event", "direction_of"]
