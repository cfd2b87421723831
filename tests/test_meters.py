"""The meter vocabulary (genai-prices' usage keys, whole), its part-of checks, and the service tier:
accepted on every way in, stored, priced through genai-prices' price variants, refused when unknown."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices.types import _reported_usage_keys
from sqlalchemy import select
from typer.testing import CliRunner

from costledger import InvalidEvent, Ledger, UnknownPrice
from costledger.cli import app
from costledger.events import parse_event
from costledger.pricing import price
from costledger.reprice import reprice
from costledger.store.schema import events

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


# -- the vocabulary ---------------------------------------------------------------------------------


@pytest.mark.parametrize("meter", sorted(_reported_usage_keys()))
def test_every_usage_key_of_genai_prices_is_a_meter(meter: str) -> None:
    # Each key alone, with every whole it is part of given as large: accepted as it is.
    from costledger.pricing.meters import ANCESTORS

    usage = {whole: 100 for whole in ANCESTORS[meter]} | {meter: 100}
    event = parse_event({"service": "openai", "model": "gpt-4o", "usage": usage})
    assert event.usage == usage


def test_our_meters_stay() -> None:
    usage = {"characters": 10, "participant_minutes": 1, "agent_session_minutes": 2, "webrtc_minutes": 3,
             "sip_minutes": 4, "phone_minutes": 5, "amount_usd": "9.99", "requests": 1}  # fmt: skip
    event = parse_event({"service": "livekit", "usage": usage})
    assert event.usage["amount_usd"] == Decimal("9.99") and event.usage["sip_minutes"] == 4


# -- part-of checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        (
            {"input_tokens": 10, "input_audio_tokens": 11},
            r"usage.input_audio_tokens \(11\) exceeds usage.input_tokens \(10\)",
        ),
        (
            {"output_tokens": 5, "output_reasoning_tokens": 6},
            r"output_reasoning_tokens \(6\) exceeds usage.output_tokens \(5\)",
        ),
        (
            {"input_tokens": 100, "cache_write_tokens": 10, "cache_write_5m_tokens": 6, "cache_write_1h_tokens": 6},
            r"cache_write_1h_tokens \+ usage.cache_write_5m_tokens \(12\) exceed usage.cache_write_tokens \(10\)",
        ),
        (
            {"input_tokens": 100, "input_audio_tokens": 60, "input_image_tokens": 50},
            r"input_audio_tokens \+ usage.input_image_tokens \(110\) exceed usage.input_tokens \(100\)",
        ),
        (
            {"input_tokens": 100, "cache_read_tokens": 40, "input_audio_tokens": 90, "cache_audio_read_tokens": 41},
            r"cache_audio_read_tokens \(41\) exceeds usage.cache_read_tokens \(40\)",
        ),
        # A part without its whole: genai-prices, too, wants the whole given.
        (
            {"input_tokens": 100, "cache_write_1h_tokens": 5},
            r"cache_write_1h_tokens \(5\) is part of usage.cache_write_tokens",
        ),
        ({"cache_read_tokens": 5}, r"cache_read_tokens \(5\) is part of usage.input_tokens"),
    ],
)
def test_a_part_larger_than_its_whole_is_refused_naming_both(usage: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_event({"service": "anthropic", "model": "claude-opus-4-5", "usage": usage})
    with pytest.raises(ValueError, match=message.replace("usage.", "")):
        price("anthropic", "claude-opus-4-5", at=NOW, **usage)


def test_parts_that_fit_are_accepted_and_zero_parts_need_no_whole() -> None:
    parse_event({"service": "x", "usage": {"cache_read_tokens": 0, "output_reasoning_tokens": 0}})
    parse_event({"service": "x", "usage": {"input_tokens": 100, "cache_read_tokens": 40, "cache_write_tokens": 60,
                                            "cache_write_5m_tokens": 20, "cache_write_1h_tokens": 40}})  # fmt: skip


# -- pricing the new meters with genai-prices' rates --------------------------------------------------


def test_openai_realtime_audio_tokens_are_priced_as_audio() -> None:
    # gpt-realtime: text $4 in / $16 out, audio $32 in / $64 out, cached $0.40 (text and audio) per MTok.
    # One 5-minute voice turn: 20,000 prompt tokens of which 18,000 audio (6,000 of them cached) and
    # 2,000 text; 6,000 output tokens of which 5,400 audio.
    usage = {"input_tokens": 20_000, "input_audio_tokens": 18_000, "cache_read_tokens": 6000,
             "cache_audio_read_tokens": 6000, "output_tokens": 6000, "output_audio_tokens": 5400}  # fmt: skip
    cost = price("openai", "gpt-realtime", at=NOW, **usage)
    # 2,000 × $4 + 12,000 × $32 + 6,000 × $0.40 + 600 × $16 + 5,400 × $64, per million.
    assert cost.total == Decimal("0.008") + Decimal("0.384") + Decimal("0.0024") + Decimal("0.0096") + Decimal("0.3456")
    # As text (what costledger did before): 14,000 × $4 + 6,000 × $0.40 + 6,000 × $16 = $0.1544.
    assert cost.total == Decimal("0.7496")


def test_gemini_audio_input_is_priced_as_audio() -> None:
    # gemini-2.5-flash: text input $0.30, audio input $1.00, output $2.50 per MTok.
    cost = price("google", "gemini-2.5-flash", at=NOW, input_tokens=100_000, input_audio_tokens=80_000,
                 output_tokens=1000)  # fmt: skip
    assert cost.total == Decimal("0.006") + Decimal("0.08") + Decimal("0.0025")  # 20k × .30 + 80k × 1 + 1k × 2.50


def test_anthropic_one_hour_cache_writes_cost_twice_the_input() -> None:
    # Opus 4.5: input $5, 5-minute write $6.25, 1-hour write $10, output $25 per MTok.
    # 100,000 written to a 1h cache and 3,000 output: $1.00 + $0.075 (as 5-minute writes: $0.70).
    usage = {"input_tokens": 100_000, "cache_write_tokens": 100_000, "cache_write_1h_tokens": 100_000,
             "output_tokens": 3000}  # fmt: skip
    assert price("anthropic", "claude-opus-4-5", at=NOW, **usage).total == Decimal("1.075")
    both = {"input_tokens": 100_000, "cache_write_tokens": 100_000, "cache_write_5m_tokens": 40_000,
            "cache_write_1h_tokens": 60_000}  # fmt: skip
    # 40,000 × $6.25 + 60,000 × $10 per million.
    assert price("anthropic", "claude-opus-4-5", at=NOW, **both).total == Decimal("0.25") + Decimal("0.6")


def test_an_overlap_a_model_prices_apart_must_be_given() -> None:
    # gpt-realtime prices cached audio apart; cached and audio tokens given without it are ambiguous.
    with pytest.raises(UnknownPrice, match="cache_audio_read_tokens must be given too"):
        price("openai", "gpt-realtime", at=NOW, input_tokens=1000, cache_read_tokens=100, input_audio_tokens=500)
    # A model that does not price it apart needs no such split.
    assert price("openai", "gpt-4o", at=NOW, input_tokens=1000, cache_read_tokens=100, input_audio_tokens=500).total


# -- service tiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "model", "tier", "usage", "expected"),
    [
        # gpt-5 flex: $0.625 in / $5 out / $0.0625 cached per MTok (half the standard).
        (
            "openai",
            "gpt-5",
            "flex",
            {"input_tokens": 1_000_000, "cache_read_tokens": 200_000, "output_tokens": 100_000},
            "1.0125",
        ),  # 800k × .625 + 200k × .0625 + 100k × 5
        # gpt-5 priority: $2.50 / $20.
        ("openai", "gpt-5", "priority", {"input_tokens": 100_000, "output_tokens": 10_000}, "0.45"),
        # Batch, cache included: Opus 4.5 batch $2.50 in, $3.125 5m write, $0.25 read, $12.50 out.
        (
            "anthropic",
            "claude-opus-4-5",
            "batch",
            {"input_tokens": 100_000, "cache_read_tokens": 50_000, "cache_write_tokens": 20_000, "output_tokens": 4000},
            "0.2",
        ),  # 30k × 2.5 + 50k × .25 + 20k × 3.125 + 4k × 12.5
        # Claude Opus 4.6 fast mode: 6× ($30 / $150): 10,000 in and 4,000 out, $0.15 at standard.
        ("anthropic", "claude-opus-4-6", "fast", {"input_tokens": 10_000, "output_tokens": 4000}, "0.9"),
        # Standard spelled as the provider spells it.
        ("openai", "gpt-5", "default", {"input_tokens": 1_000_000}, "1.25"),
        ("anthropic", "claude-opus-4-5", "standard", {"input_tokens": 1_000_000}, "5"),
    ],
)
def test_a_service_tier_is_priced_with_its_rates(
    service: str, model: str, tier: str, usage: dict[str, int], expected: str
) -> None:
    cost = price(service, model, at=NOW, service_tier=tier, **usage)
    assert cost.total == Decimal(expected)


@pytest.mark.parametrize(
    ("service", "model", "tier"),
    [("openai", "gpt-5", "scale"), ("anthropic", "claude-opus-4-5", "priority"), ("deepgram", "nova-3", "batch")],
)
def test_an_unknown_tier_is_unpriced_never_standard(service: str, model: str, tier: str) -> None:
    with pytest.raises(UnknownPrice, match=f"no price for service tier '{tier}'"):
        price(service, model, at=NOW, service_tier=tier, input_tokens=1, audio_seconds=1)


def test_a_tier_before_genai_prices_knows_its_price_is_unpriced() -> None:
    # genai-prices prices OpenAI's batch variant of gpt-5 from 2026-10-14 on.
    with pytest.raises(UnknownPrice, match="service tier 'batch'"):
        price("openai", "gpt-5", at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC), service_tier="batch", input_tokens=1)


def test_the_tier_is_stored_priced_at_ingest_and_by_reprice(tmp_path: Path) -> None:
    with Ledger(tmp_path / "tiers.db") as ledger:
        ledger.record({"event_id": "flex", "ts": NOW, "service": "openai", "model": "gpt-5", "service_tier": "Flex",
                       "usage": {"input_tokens": 1_000_000}})  # fmt: skip
        unknown = ledger.record("openai", "gpt-5", input_tokens=1, service_tier="scale", event_id="scale", ts=NOW)
        assert unknown.unpriced == 1
        with ledger.store.engine.connect() as connection:
            rows = {r.event_id: r for r in connection.execute(select(events))}
        assert rows["flex"].service_tier == "flex"
        assert rows["flex"].cost == 625_000_000  # $0.625 in nano-dollars
        assert rows["flex"].price_ref.endswith("+flex")
        assert "no price for service tier 'scale'" in rows["scale"].unpriced_reason
        done = reprice(ledger, None, None)
        assert (done.changed, done.new_cost_usd) == (0, Decimal("0.625"))


def test_the_tier_field_is_checked() -> None:
    with pytest.raises(InvalidEvent, match="service_tier"):
        parse_event({"service": "openai", "service_tier": "x" * 65})
    with pytest.raises(InvalidEvent, match="service_tier"):
        parse_event({"service": "openai", "service_tier": 3})


def test_the_cli_prices_any_meter_and_tier() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["price", "anthropic", "claude-opus-4-5", "--input-tokens", "100000",
                                 "--usage", "cache_write_tokens=100000", "--usage", "cache_write_1h_tokens=100000",
                                 "--output-tokens", "3000", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cost_usd"] == "1.075"
    flex = runner.invoke(app, ["price", "openai", "gpt-5", "--input-tokens", "1000000", "--service-tier", "flex",
                               "--at", "2026-11-20", "--json"])  # fmt: skip
    assert flex.exit_code == 0, flex.output
    assert json.loads(flex.output)["cost_usd"] == "0.625"
    unknown = runner.invoke(app, ["price", "openai", "gpt-5", "--input-tokens", "1", "--service-tier", "scale"])
    assert unknown.exit_code == 3 and "service tier 'scale'" in unknown.output
    bad = runner.invoke(app, ["price", "openai", "gpt-5", "--usage", "input_tokens"])
    assert bad.exit_code == 2 and "METER=N" in bad.output
