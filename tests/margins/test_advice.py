"""Advice with figures: each item's $/month is recomputable by hand and states its assumptions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from costledger import Ledger
from costledger.margins import recommendations_json
from costledger.margins.advice import observed_prefixes, prompt_caching
from costledger.margins.whatif import PastEvent
from costledger.money import quantize
from costledger.pricing import default_catalog

SONNET = "claude-sonnet-4-20250514"


def test_advice_on_the_october_workload(october: Ledger) -> None:
    items = recommendations_json(october, dt.date(2026, 10, 1), dt.date(2026, 10, 30))["recommendations"]
    summary = [(i["kind"], i["usd_per_month"], i["details"].get("plan") or i["details"].get("agent")) for i in items]
    assert summary == [
        # u_c2 refunded and still used 0.508 + $5 of the server: −6.649 (to the cent) on a plan negative at limit.
        ("heavy_users", "6.65", "creator"),
        ("heavy_users", "5.04", "explorer"),
        # Sonnet → Haiku 4.5 per agent over 30 days, 30-day months.
        ("model_swap", "0.3", "synthesizer"),
        ("model_swap", "0.21", "scholar"),
        ("model_swap", "0.03", "notetaker"),
        ("unpriced", None, None),
    ]
    assert all(item["assumptions"] for item in items)
    assert items[-1]["details"] == {"service": "anthropic", "model": "claude-unknown-x", "events": 1}
    # One call each at the start of a session: caching would only add a cache write, so no caching advice.
    assert not [i for i in items if i["kind"] == "prompt_caching"]


def _call(n: int, session: str, usage: dict[str, int], agent: str = "scholar", mode: str = "combined") -> PastEvent:
    ts = dt.datetime(2026, 10, 2, 12, n, tzinfo=dt.UTC)
    cost = quantize(default_catalog().price("anthropic", SONNET, usage, ts).total)
    return PastEvent(f"{session}-{n}", ts, "anthropic", SONNET, usage, cost, "catalog", agent=agent, mode=mode,
                     session_id=session)  # fmt: skip


def test_prompt_caching_from_a_configured_prefix() -> None:
    # Three calls of 10,000 input tokens with an 8,000-token prefix, at $3 input, $3.75 write, $0.30 read:
    # now 3 × 0.03 = 0.09; cached 0.006 + 0.03 (write), then 2 × (0.006 + 0.0024) = 0.0528.
    calls = [_call(n, "s1", {"input_tokens": 10_000}) for n in range(3)]
    (item,) = prompt_caching(calls, default_catalog(), {"combined": 8_000}, days=30)
    assert item.details["old_cost_usd"] == "0.09" and item.details["new_cost_usd"] == "0.0528"
    assert item.usd_per_month == Decimal("0.03")
    assert "prefix_tokens" in item.title and item.assumptions


def test_prompt_caching_from_observed_cache_reads() -> None:
    # The agent's cached calls read 6,000 tokens: its uncached calls of another session could too.
    cached = [_call(n, "s1", {"input_tokens": 9_000, "cache_read_tokens": 6_000}) for n in range(3)]
    uncached = [_call(10 + n, "s2", {"input_tokens": 9_000}) for n in range(4)]
    assert observed_prefixes(cached) == {("anthropic", SONNET, "scholar"): 6_000}
    (item,) = prompt_caching(cached + uncached, default_catalog(), {}, days=30)
    # Old 4 × 0.027 = 0.108; new 0.009 + 0.0225 (write) + 3 × (0.009 + 0.0018) = 0.0639.
    assert (item.details["calls"], item.details["old_cost_usd"], item.details["new_cost_usd"]) == (4, "0.108", "0.0639")
    assert "observed" in item.title


def test_prompt_caching_prices_the_calls_at_their_own_service_tier() -> None:
    # gpt-5 on the flex tier (OpenAI's published flex rates: $0.625 input, $0.0625 cached input per MTok;
    # writing the cache is billed as input). Three calls of 10,000 input tokens with an 8,000-token prefix:
    # now 3 × 0.00625 = 0.01875; cached 0.00625 (the first call writes), then 2 × (2,000 × 0.625 + 8,000 ×
    # 0.0625) / 10^6 = 2 × 0.00175: 0.00975 in all. At the standard rates ($1.25, $0.125) the cached calls
    # would cost 0.0195, more than the flex calls do now, and hide the saving.
    calls = []
    for n in range(3):
        ts = dt.datetime(2026, 11, 2, 12, n, tzinfo=dt.UTC)
        usage = {"input_tokens": 10_000}
        cost = quantize(default_catalog().price("openai", "gpt-5", usage, ts, "flex").total)
        calls.append(PastEvent(f"s1-{n}", ts, "openai", "gpt-5", usage, cost, "catalog", agent="scholar",
                               mode="combined", session_id="s1", service_tier="flex"))  # fmt: skip
    assert [c.cost for c in calls] == [Decimal("0.00625")] * 3
    (item,) = prompt_caching(calls, default_catalog(), {"combined": 8_000}, days=30)
    assert (item.details["old_cost_usd"], item.details["new_cost_usd"]) == ("0.01875", "0.00975")
