"""Who sent a webhook: Stripe's and Twilio's request signatures, checked with their own packages.

Stripe signs `timestamp.body` with the endpoint secret; the timestamp is part of what is
signed, so a captured request replayed later carries its old time and is refused once it
is older than the tolerance (Stripe's own default, 5 minutes). The `stripe` package checks
the signature; the age is measured on costledger's clock, so a pinned clock (tests, a
replayed day) judges it like everything else.

Twilio signs the URL it requested plus the sorted form parameters with the account's auth
token (or a shared key, named by X-Twilio-Webhooks-Signature-Settings); the `twilio`
package's RequestValidator checks it.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import clock
from .problems import BadSignature


def verify_stripe(body: bytes, header: str | None, secret: str, tolerance_seconds: int = 300) -> None:
    import stripe

    if not header:
        raise BadSignature("no Stripe-Signature header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSignature("the body is not UTF-8, so it cannot be what Stripe signed") from None
    try:
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance=None)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(f"Stripe-Signature does not match: {exc.user_message or exc}") from None
    signed_at = _timestamp(header)
    age = clock.timestamp() - signed_at
    if age > tolerance_seconds:
        raise BadSignature(f"Stripe-Signature is {int(age)} s old (at most {tolerance_seconds}): a replay is refused")


def _timestamp(header: str) -> int:
    # The header was just verified, and its t= is part of what was signed.
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise BadSignature("Stripe-Signature has no timestamp")


def verify_twilio(
    url: str, params: Mapping[str, str], signature: str | None, token: str, settings_header: str | None = None
) -> None:
    from twilio.request_validator import RequestValidator, get_signature_algorithm

    if not signature:
        raise BadSignature("no X-Twilio-Signature header")
    algorithm = get_signature_algorithm(settings_header)
    if not RequestValidator(token).validate(url, dict(params), signature, algorithm):
        raise BadSignature(
            "X-Twilio-Signature does not match this URL and these parameters (behind a proxy, set "
            "[twilio] public_url to the address Twilio calls)"
        )


__all__ = ["verify_stripe", "verify_twilio"]
