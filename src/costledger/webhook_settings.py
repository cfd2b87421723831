"""`[stripe]` and `[twilio]` of costledger.toml: how the providers' webhooks become events."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .config_fields import names, only, string
from .pricing.entries import EntryError, money


@dataclass(frozen=True)
class StripeSettings:
    """`[stripe]`: how Stripe's webhooks and exports become payment events (see costledger.webhooks)."""

    webhook_secret: str | None = None  # the endpoint's signing secret (whsec_…); else $COSTLEDGER_STRIPE_WEBHOOK_SECRET
    # A restricted key that may read balance transactions, charges, customers, refunds and invoice
    # payments, so fees are Stripe's own; else $COSTLEDGER_STRIPE_API_KEY. Without one, a fee the
    # event does not carry is the catalog's estimate.
    api_key: str | None = None
    api_base: str | None = None  # another address of the Stripe API (a proxy, stripe-mock)
    tolerance_seconds: int = 300  # a signature older than this is a replay: refused
    user_metadata_key: str = "user_id"  # metadata key naming your user (object, subscription, customer)
    plan_metadata_key: str = "plan"  # metadata key naming the plan when no price maps to one
    plans: Mapping[str, str] = field(default_factory=dict)  # Stripe price or product id → plan name
    customers: Mapping[str, str] = field(default_factory=dict)  # Stripe customer id → user id
    usd_rates: Mapping[str, Decimal] = field(default_factory=dict)  # currency → USD, for estimates only

    def secret(self) -> str | None:
        return self.webhook_secret or os.environ.get("COSTLEDGER_STRIPE_WEBHOOK_SECRET") or None

    def key(self) -> str | None:
        return self.api_key or os.environ.get("COSTLEDGER_STRIPE_API_KEY") or None


@dataclass(frozen=True)
class TwilioSettings:
    """`[twilio]`: how Twilio's call status callbacks become phone-minute events."""

    auth_token: str | None = None  # else $COSTLEDGER_TWILIO_AUTH_TOKEN
    # The URL exactly as Twilio requests it (its signature covers it); needed behind a proxy
    # that changes the scheme, host or port. Default: the URL the request arrived at.
    public_url: str | None = None
    session_parameter: str = "CallSid"  # the callback (or callback URL query) parameter naming the session
    session_prefix: str = ""  # put before it: "call-" maps CA123… to the session "call-CA123…"
    mode: str | None = None  # the mode of a call whose session the agent did not record

    def token(self) -> str | None:
        return self.auth_token or os.environ.get("COSTLEDGER_TWILIO_AUTH_TOKEN") or None


def parse_stripe(raw: Mapping[str, Any]) -> StripeSettings:
    only(raw, {"webhook_secret", "api_key", "api_base", "tolerance_seconds", "user_metadata_key",
                "plan_metadata_key", "plans", "customers", "usd_rates"})  # fmt: skip
    tolerance = raw.get("tolerance_seconds", 300)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 1 <= tolerance <= 86_400:
        raise EntryError("tolerance_seconds", f"expected whole seconds between 1 and 86400, got {tolerance!r}")
    rates = raw.get("usd_rates", {})
    if not isinstance(rates, dict):
        raise EntryError("usd_rates", f'expected {{ eur = "1.08", … }}, got {rates!r}')
    usd_rates = {}
    for currency, rate in rates.items():
        usd_rates[str(currency).lower()] = money(rate, f"usd_rates.{currency}")
        if usd_rates[str(currency).lower()] == 0:
            raise EntryError(f"usd_rates.{currency}", "a rate must be above zero")
    return StripeSettings(
        webhook_secret=string(raw, "webhook_secret"),
        api_key=string(raw, "api_key"),
        api_base=string(raw, "api_base"),
        tolerance_seconds=tolerance,
        user_metadata_key=string(raw, "user_metadata_key", "user_id"),
        plan_metadata_key=string(raw, "plan_metadata_key", "plan"),
        plans=names(raw, "plans"),
        customers=names(raw, "customers"),
        usd_rates=usd_rates,
    )


def parse_twilio(raw: Mapping[str, Any]) -> TwilioSettings:
    only(raw, {"auth_token", "public_url", "session_parameter", "session_prefix", "mode"})
    prefix = raw.get("session_prefix", "")
    if not isinstance(prefix, str):
        raise EntryError("session_prefix", f"expected a string, got {prefix!r}")
    public_url = string(raw, "public_url")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise EntryError("public_url", f"expected the https://… address Twilio calls, got {public_url!r}")
    return TwilioSettings(
        auth_token=string(raw, "auth_token"),
        public_url=public_url,
        session_parameter=string(raw, "session_parameter", "CallSid"),
        session_prefix=prefix,
        mode=string(raw, "mode"),
    )
