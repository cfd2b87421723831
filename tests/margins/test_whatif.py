"""What-if repricing: real token counts, the pure core's prices, savings per plan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costledger import Ledger
from costledger.margins import Swap, repriced, what_if
from costledger.margins.whatif import PastEvent
from costledger.money import quantize
from costledger.pricing import default_catalog

OCT = {"since": dt.date(2026, 10, 1), "until": dt.date(2026, 10, 31)}
HAIKU = "anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5"


def test_swap_parses_and_refuses_malformed_text() -> None:
    assert Swap.parse(HAIKU) == Swap("anthropic", "claude-sonnet-4-0", "anthropic", "claude-haiku-4-5")
    for bad in ("anthropic:claude-sonnet-4-0", "anthropic=openai:gpt-4o", ":x=openai:gpt-4o"):
        with pytest.raises(ValueError, match="SERVICE:MODEL=SERVICE:MODEL"):
            Swap.parse(bad)


def test_sonnet_to_haiku_for_the_creator_tier(october: Ledger) -> None:
    report = what_if(october.store, october.config, october.catalog, Swap.parse(HAIKU), tiers=["creator"], **OCT)
    data = report.as_dict()
    # Creator's Sonnet calls: 170,000 input and 14,000 output tokens. Sonnet 0.72; Haiku $1/$5: 0.17 + 0.07.
    assert (data["events"], data["old_cost_usd"], data["new_cost_usd"], data["savings_usd"]) == (5, "0.72", "0.24",
                                                                                                   "0.48")  # fmt: skip
    plans = {p["plan"]: p for p in data["plans"]}
    assert plans["creator"] == {"plan": "creator", "savings_usd": "0.48", "margin_usd": "13.457",
                                "new_margin_usd": "13.937"}  # fmt: skip
    assert plans["expert"]["savings_usd"] == "0"


def test_only_the_chosen_agent_is_repriced(october: Ledger) -> None:
    report = what_if(october.store, october.config, october.catalog, Swap.parse(HAIKU), agents=["synthesizer"], **OCT)
    # 100,000 in / 10,000 out: 0.45 on Sonnet, 0.10 + 0.05 on Haiku.
    assert (report.repricing.matched, report.repricing.savings) == (1, Decimal("0.30"))


def test_the_same_model_changes_nothing_on_recorded_events(october: Ledger) -> None:
    same = Swap.parse("anthropic:claude-sonnet-4-20250514=anthropic:claude-sonnet-4-0")
    report = what_if(october.store, october.config, october.catalog, same, **OCT)
    assert report.repricing.matched == 7
    assert report.repricing.savings == 0
    assert report.repricing.skipped_unpriced == 0  # the unknown model is not Sonnet


usage = st.fixed_dictionaries(
    {"input_tokens": st.integers(0, 400_000), "output_tokens": st.integers(0, 50_000)},
    optional={"web_searches": st.integers(0, 5)},
).flatmap(
    lambda u: st.integers(0, u["input_tokens"]).map(lambda c: {**u, "cache_read_tokens": c})
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(usages=st.lists(usage, min_size=1, max_size=8), day=st.integers(0, 400))
def test_what_if_with_the_same_model_changes_nothing(usages: list[dict[str, int]], day: int) -> None:
    catalog = default_catalog()
    ts = dt.datetime(2025, 9, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
    events = [
        PastEvent(f"e{i}", ts, "anthropic", "claude-sonnet-4-20250514", u,
                  quantize(catalog.price("anthropic", "claude-sonnet-4-20250514", u, ts).total), "catalog")
        for i, u in enumerate(usages)
    ]  # fmt: skip
    result = repriced(events, Swap.parse("anthropic:claude-sonnet-4-0=anthropic:claude-sonnet-4-0"), catalog)
    assert result.matched == len(events)
    assert result.new_cost == result.old_cost and result.savings == 0


def test_reported_and_unpriced_events_are_counted_apart_not_guessed() -> None:
    catalog = default_catalog()
    ts = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    u = {"input_tokens": 1000, "output_tokens": 10}
    events = [
        PastEvent("a", ts, "anthropic", "claude-sonnet-4-0", u, Decimal("9"), "reported"),
        PastEvent("b", ts, "anthropic", "claude-sonnet-4-0", u, None, None),
        PastEvent("c", ts, "anthropic", "claude-sonnet-4-0", u, Decimal("0.03015"), "catalog"),
    ]
    result = repriced(events, Swap.parse("anthropic:claude-sonnet-4-0=anthropic:no-such-model"), catalog)
    assert (result.skipped_reported, result.skipped_unpriced, result.not_priceable, result.matched) == (1, 1, 1, 0)
