"""Money in and phone minutes from their source: Stripe's and Twilio's webhooks as usage events.

`stripe_objects` and `twilio_calls` are pure: they turn a Stripe event (or object) and a
Twilio call status callback into costledger events. What an event does not carry — a
balance transaction, a customer's metadata, the session a call belongs to — they ask of
a lookup, which `sources` backs with Stripe's API (through the `stripe` package) and the
ledger. `signatures` checks who sent a request, with each provider's own package.
"""

from __future__ import annotations

from .problems import BadSignature, NeedsData, SourceUnavailable, Unusable
from .signatures import verify_stripe, verify_twilio
from .stripe_fields import major
from .stripe_lookup import Lookup, Offline
from .stripe_objects import HANDLED, StripeEvents
from .twilio_calls import call_event

__all__ = [
    "HANDLED",
    "BadSignature",
    "Lookup",
    "NeedsData",
    "Offline",
    "SourceUnavailable",
    "StripeEvents",
    "Unusable",
    "call_event",
    "major",
    "verify_stripe",
    "verify_twilio",
]
