"""What plans need from costledger.toml: subscriptions, min_margin_share, prefix_tokens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from costledger.config import Subscription, parse_config
from costledger.errors import ConfigError

TOML = """
[[plans]]
name = "creator"
price_usd = "29"
included_sessions = 100
min_margin_share = "0.2"

[[session_types]]
mode = "combined"
estimate_usd = ["1.00", "1.65"]
extra_cost_usd = "0"
prefix_tokens = 6000

[[subscriptions]]
user_id = "u_1"
plan = "creator"
since = 2026-10-01

[[subscriptions]]
user_id = "u_2"
plan = "creator"
since = 2026-09-01
until = 2026-10-15
"""


def test_subscriptions_and_plan_limits_are_read():
    config = parse_config(TOML)
    assert config.plans[0].min_margin_share == Decimal("0.2")
    assert config.session_types[0].prefix_tokens == 6000
    assert config.subscriptions == (
        Subscription("u_1", "creator", dt.date(2026, 10, 1)),
        Subscription("u_2", "creator", dt.date(2026, 9, 1), dt.date(2026, 10, 15)),
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('plan = "creator"\nsince = 2026-10-01', 'plan = "pro"\nsince = 2026-10-01'),
         "costledger.toml:16: subscriptions[0].plan: no [[plans]] is named 'pro'"),
        (("until = 2026-10-15", "until = 2026-08-15"), "costledger.toml:23: subscriptions[1].until: 2026-08-15"),
        (('min_margin_share = "0.2"', 'min_margin_share = "2"'), "costledger.toml:6: plans[0].min_margin_share"),
        (("prefix_tokens = 6000", "prefix_tokens = -1"), "costledger.toml:12: session_types[0].prefix_tokens"),
        (('user_id = "u_1"', 'user = "u_1"'), "costledger.toml:15: subscriptions[0].user: unknown key"),
    ],
)  # fmt: skip
def test_errors_name_the_line_and_key(edit, expected):
    old, new = edit
    with pytest.raises(ConfigError) as caught:
        parse_config(TOML.replace(old, new, 1))
    assert str(caught.value).startswith(expected)
