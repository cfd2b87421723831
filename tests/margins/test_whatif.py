"""What-if repricing: real token counts, the pure core's prices, savings per plan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costledger import Ledger, clock
from costledger.margins import Swap, repriced, what_if
from costledger.margins.whatif import PastEvent, past_events
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


TIERED = """
[[prices]]                      # a tier only gpt-5 has a price for here: its swap cannot be priced
service = "openai"
model = "gpt-5"
service_tier = "scale"
since = 2026-01-01
input_per_mtok = "1.00"
output_per_mtok = "8.00"
source = "negotiated"
"""


def test_a_swap_prices_each_event_at_its_own_service_tier(tmp_path: Path) -> None:
    # OpenAI's published rates per MTok, input / output: gpt-5 $1.25 / $10 standard, $0.625 / $5 flex and
    # batch, $2.50 / $20 priority; gpt-5-mini $0.25 / $2 standard, $0.125 / $1 flex and batch, $0.45 / $3.60
    # priority. Each call: 1,000,000 input and 100,000 output tokens.
    config = tmp_path / "costledger.toml"
    config.write_text(TIERED, encoding="utf-8")
    calls = {None: ("2.25", "0.45"), "flex": ("1.125", "0.225"), "batch": ("1.125", "0.225"),
             "priority": ("4.50", "0.81"), "scale": ("1.80", None)}  # fmt: skip
    with clock.use(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)), Ledger(tmp_path / "l.db", config=config) as ledger:
        ledger.record_many([
            {"event_id": f"e-{tier}", "ts": "2026-11-20T10:00:00Z", "service": "openai", "model": "gpt-5",
             "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000}, **({"service_tier": tier} if tier else {})}
            for tier in calls
        ])  # fmt: skip
        report = what_if(ledger.store, ledger.config, ledger.catalog, Swap.parse("openai:gpt-5=openai:gpt-5-mini"),
                         since=dt.date(2026, 11, 20), until=dt.date(2026, 11, 20))  # fmt: skip
    repriced_at = {event.service_tier: (old, new) for event, old, new in report.repricing.by_event}
    assert repriced_at == {tier: (Decimal(old), Decimal(new)) for tier, (old, new) in calls.items() if new}
    # No gpt-5-mini price at the "scale" tier: counted apart, not priced at another tier's rate.
    assert (report.repricing.matched, report.repricing.not_priceable) == (4, 1)
    assert report.repricing.savings == Decimal("2.25") - Decimal("0.45") + 2 * (Decimal("1.125") - Decimal("0.225")) + (
        Decimal("4.50") - Decimal("0.81")
    )


def test_past_events_are_read_back_exactly_on_either_backend(store_url: str) -> None:
    # Deepgram's published rates: Nova-3 streaming $0.0077 a minute, pre-recorded $0.0043, per second of
    # audio rounded up per request. 90.5 s bill as 91 s: $0.0077 × 91 / 60 = $0.011678333… → 0.011678333.
    day = dt.date(2026, 11, 20)
    with clock.use(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)), Ledger(store_url) as ledger:
        ledger.record_many([
            {"event_id": "stt-1", "ts": "2026-11-20T10:00:00.250000Z", "service": "deepgram",
             "model": "nova-3-streaming", "usage": {"audio_seconds": "90.5"}, "session_id": "call-1", "agent": "phone"},
            {"event_id": "stt-2", "ts": "2026-11-20T10:05:00Z", "service": "deepgram", "model": "nova-3-streaming",
             "usage": {"audio_seconds": 30}, "user_id": "u-1", "tier": "pro", "mode": "voice"},
        ])  # fmt: skip
        first, second = past_events(ledger.store, "deepgram", day, day)
        chosen = {
            "agent": [e.event_id for e in past_events(ledger.store, "deepgram", day, day, agents=["phone"])],
            "mode": [e.event_id for e in past_events(ledger.store, "deepgram", day, day, modes=["voice", "text"])],
            "tier and agent": past_events(ledger.store, "deepgram", day, day, tiers=["pro"], agents=["phone"]),
        }
        anonymous = past_events(ledger.store, "deepgram", day, day, users=False)  # as the advice reads them
        report = what_if(ledger.store, ledger.config, ledger.catalog,
                         Swap.parse("deepgram:nova-3-streaming=deepgram:nova-3"), since=day, until=day)  # fmt: skip
    assert first == PastEvent("stt-1", dt.datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=dt.UTC), "deepgram",
                              "nova-3-streaming", {"audio_seconds": Decimal("90.5")}, Decimal("0.011678333"),
                              "catalog", agent="phone", session_id="call-1")  # fmt: skip
    assert type(second.usage["audio_seconds"]) is int and second.cost == Decimal("0.00385")  # 30 s at $0.0077/min
    assert (second.user_id, second.tier, second.mode, second.ts.minute) == ("u-1", "pro", "voice", 5)
    # Chosen in the query as repriced() chooses: an event without an agent, mode or tier is never one chosen.
    assert chosen == {"agent": ["stt-1"], "mode": ["stt-2"], "tier and agent": []}
    assert anonymous == [first, second._replace(user_id=None, tier=None)]
    # Pre-recorded: 91 s × $0.0043 / 60 = $0.006521666… → 0.006521667; 30 s: $0.00215.
    assert report.repricing.new_cost == Decimal("0.006521667") + Decimal("0.00215")


def test_past_events_come_in_time_order_and_by_id_within_an_instant_on_either_backend(store_url: str) -> None:
    # Which call of a session is its first (the caching advice's cache write) must not depend on the
    # order the events were recorded in (SQLite's time index holds an instant's rows in that order).
    day = dt.date(2026, 11, 20)
    at = "2026-11-20T10:00:00Z"
    recorded = ["b-2", "B-1", "a-9", "late", "a-10", "early"]
    with clock.use(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)), Ledger(store_url) as ledger:
        ledger.record_many([
            {"event_id": event_id, "service": "anthropic", "model": "claude-haiku-4-5",
             "usage": {"input_tokens": 10, "output_tokens": 1},
             "ts": {"late": "2026-11-20T10:00:01Z", "early": "2026-11-20T09:59:59.999999Z"}.get(event_id, at)}
            for event_id in recorded
        ])  # fmt: skip
        found = [e.event_id for e in past_events(ledger.store, "anthropic", day, day)]
    # Code point order within the instant: capitals first, "a-10" before "a-9".
    assert found == ["early", "B-1", "a-10", "a-9", "b-2", "late"]
