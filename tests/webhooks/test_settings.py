"""[stripe] and [twilio] in costledger.toml: read, defaulted, and refused with the line and key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costledger.config import parse_config
from costledger.errors import ConfigError

PLANS = '[[plans]]\nname = "creator"\nprice_usd = "29"\n\n'


def test_sections_are_read_and_secrets_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        PLANS
        + """[stripe]
api_key = "rk_live_x"
tolerance_seconds = 600
user_metadata_key = "account"
plans = { "price_1Q" = "creator" }
customers = { "cus_1" = "u_1" }
usd_rates = { EUR = "1.08" }

[twilio]
public_url = "https://costs.example.com/v1/webhooks/twilio"
session_parameter = "session_id"
session_prefix = "call-"
mode = "phone_call"
"""
    )
    stripe, twilio = config.stripe, config.twilio
    assert (stripe.key(), stripe.tolerance_seconds, stripe.user_metadata_key) == ("rk_live_x", 600, "account")
    assert (stripe.plans, stripe.customers, stripe.usd_rates) == ({"price_1Q": "creator"}, {"cus_1": "u_1"},
                                                                  {"eur": Decimal("1.08")})  # fmt: skip
    assert stripe.secret() is None and twilio.token() is None
    monkeypatch.setenv("COSTLEDGER_STRIPE_WEBHOOK_SECRET", "whsec_env")
    monkeypatch.setenv("COSTLEDGER_TWILIO_AUTH_TOKEN", "token_env")
    assert (stripe.secret(), twilio.token()) == ("whsec_env", "token_env")
    assert (twilio.session_parameter, twilio.session_prefix, twilio.mode) == ("session_id", "call-", "phone_call")
    defaults = parse_config("")
    assert (defaults.stripe.tolerance_seconds, defaults.twilio.session_parameter) == (300, "CallSid")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[stripe]\nwebhook_secret = ""\n', ":2: stripe.webhook_secret: expected a non-empty string"),
        ("[stripe]\ntolerance_seconds = 0\n", ":2: stripe.tolerance_seconds: expected whole seconds"),
        ('[stripe]\nplans = { "price_1" = "gold" }\n', ":6: stripe.plans: price_1 maps to 'gold'"),
        ('[stripe]\nusd_rates = { eur = "zero" }\n', ":2: stripe.usd_rates.eur: not a number"),
        ('[stripe]\nusd_rates = { eur = "0" }\n', ":2: stripe.usd_rates.eur: a rate must be above zero"),
        ('[stripe]\nsecret = "x"\n', ":2: stripe.secret: unknown key"),
        ('[twilio]\npublic_url = "costs.example.com"\n', ":2: twilio.public_url: expected the https://"),
        ("[twilio]\nsession_prefix = 3\n", ":2: twilio.session_prefix: expected a string"),
        ('stripe = "whsec"\n', ":1: stripe: expected a [stripe] table"),
    ],
)
def test_mistakes_name_the_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(PLANS + text if "plans" in text else text)
    assert message in str(raised.value)
