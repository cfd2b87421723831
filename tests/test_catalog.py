"""The voice, telephony and payment catalog: published rates computed by hand, rounding and
granularity applied per event from the data, every entry with its source, date read, billing
granularity and confidence; model ids as providers and routers spell them."""

from __future__ import annotations

import datetime as dt
import tomllib
import traceback
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from costledger import UnknownPrice
from costledger.config import parse_config
from costledger.errors import ConfigError
from costledger.pricing import price
from costledger.pricing.catalog import Catalog, builtin_entries, catalog_from_config
from costledger.pricing.llm import GenaiPrices

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


# -- Stripe -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "amount", "fee"),
    [
        ("card", "100", "3.20"),  # 2.9% of $100 = $2.90, + $0.30
        ("card", "29", "1.14"),  # $0.841 + $0.30 = $1.141 → $1.14
        ("card", "12.50", "0.66"),  # $0.3625 + $0.30 = $0.6625 → $0.66
        ("card", "15", "0.74"),  # $0.435 + $0.30 = $0.735 → half-up $0.74 (half-even would give $0.74 too)
        ("card", "5", "0.45"),  # $0.145 + $0.30 = $0.445 → half-up $0.45 (half-even: $0.44)
        ("card-international", "100", "4.70"),  # (2.9 + 1.5)% = $4.40, + $0.30
        ("card-conversion", "100", "4.20"),  # (2.9 + 1)% = $3.90, + $0.30
        ("card-international-conversion", "100", "5.70"),  # (2.9 + 1.5 + 1)% = $5.40, + $0.30
        ("card", "0", "0"),  # no successful charge, no fee
        ("refund", "100", "0"),  # a refund costs nothing more; the charge's fee is not returned
    ],
)
def test_stripe_fees_are_rounded_half_up_to_the_cent_per_charge(model: str, amount: str, fee: str) -> None:
    cost = price("stripe", model, at=NOW, amount_usd=amount)
    assert cost.total == Decimal(fee)
    assert sum(cost.breakdown.values(), start=Decimal(0)) == cost.total


def test_stripe_rounding_is_named_in_the_breakdown() -> None:
    cost = price("stripe", "card", at=NOW, amount_usd="5")
    assert cost.breakdown == {
        "amount_usd": Decimal("0.145"),
        "per_event": Decimal("0.30"),
        "rounding": Decimal("0.005"),
    }


def test_a_charge_naming_no_model_is_priced_without_loading_genai_prices() -> None:
    # margins price the plans' payment fees so: loading genai-prices' data took a third of a second
    # of `costledger margins`, for prices it does not hold.
    catalog = Catalog(genai=GenaiPrices())
    cost = catalog.price("stripe", None, {"amount_usd": Decimal("100")}, NOW)
    assert cost.total == Decimal("3.20") and cost.entry.model == "card"  # the default: 2.9% of $100 + $0.30
    assert "_snapshot" not in vars(catalog.genai)
    # A named model is looked up under genai-prices' names, as before: the data is loaded then.
    assert catalog.price("stripe", "card-domestic", {"amount_usd": Decimal("100")}, NOW).total == Decimal("3.20")
    assert "_snapshot" in vars(catalog.genai)
    # The entries found without a model name are those the whole index holds under "" and "*".
    assert catalog._unnamed == {key: found for key, found in catalog.index.items() if key[1] in ("", "*")}
    assert {"stripe", "livekit"} <= {service for service, name in catalog._unnamed if name == ""}


# -- telephony ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "minutes", "expected"),
    [
        ("voice-inbound", "1", "0.0085"),  # one whole minute at $0.0085
        ("voice-inbound", "1.0167", "0.017"),  # 61 seconds: billed 2 minutes
        ("voice-inbound", "0.1", "0.0085"),  # 6 seconds: billed 1 minute
        ("voice-outbound", "4.5", "0.065"),  # 4m30s: 5 minutes at $0.013
        ("voice-inbound-toll-free", "2", "0.044"),  # 2 minutes at $0.022
        ("outbound", "3", "0.039"),
    ],
)
def test_twilio_voice_is_billed_per_minute_rounded_up_per_call(model: str, minutes: str, expected: str) -> None:
    assert price("twilio", model, at=NOW, phone_minutes=minutes).total == Decimal(expected)


def test_phone_minutes_of_another_provider_are_priced_from_your_config() -> None:
    config = parse_config(
        """
[[prices]]
service = "telnyx"
model = "voice"
since = 2026-01-01
phone_minute = "0.007"
round_up = { phone_minutes = "1" }
""",
        Path("costledger.toml"),
    )
    catalog = catalog_from_config(config)
    # 2.2 minutes billed as 3 at $0.007.
    assert price("telnyx", "voice", at=NOW, catalog=catalog, phone_minutes="2.2").total == Decimal("0.021")


# -- LiveKit Cloud --------------------------------------------------------------------------------------


def test_livekit_connections_are_rounded_up_to_whole_minutes_per_kind() -> None:
    # One agent session of 10 s (1 minute at $0.01), one of 70 s (2 minutes).
    assert price("livekit", at=NOW, agent_session_minutes=Decimal(10) / 60).total == Decimal("0.01")
    assert price("livekit", at=NOW, agent_session_minutes=Decimal(70) / 60).total == Decimal("0.02")
    # A WebRTC participant for 5.5 minutes (6 × $0.0005) and a SIP caller for 3 (3 × $0.004).
    cost = price("livekit", "cloud", at=NOW, webrtc_minutes="5.5", sip_minutes=3)
    assert cost.breakdown == {"webrtc_minutes": Decimal("0.003"), "sip_minutes": Decimal("0.012")}
    # participant_minutes keeps working: before the split at the old rate, after it as WebRTC minutes.
    assert price("livekit", at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), participant_minutes=10).total == Decimal("0.2")
    assert price("livekit", at=NOW, participant_minutes=10).total == Decimal("0.005")


# -- speech-to-text and text-to-speech ------------------------------------------------------------------


def test_deepgram_streaming_and_prerecorded_are_priced_apart_per_second() -> None:
    # Pre-recorded $0.0043/min, streaming $0.0077/min; 90 s = 1.5 minutes.
    assert price("deepgram", "nova-3", at=NOW, audio_seconds=90).total == Decimal("0.00645")
    assert price("deepgram", "nova-3-streaming", at=NOW, audio_seconds=90).total == Decimal("0.01155")
    # Billed per second, each request rounded up: 59.2 s is billed as 60 s.
    assert price("deepgram", "nova-3", at=NOW, audio_seconds="59.2").total == Decimal("0.0043")
    assert price("deepgram", "aura-2", at=NOW, characters=2000).total == Decimal("0.06")  # $0.030 per 1,000


def test_cartesia_is_priced_per_credit_by_plan() -> None:
    # 1 credit per character. Startup (the default): $49 / 1,250,000 credits; Scale: $299 / 8,000,000.
    assert price("cartesia", "sonic-3", at=NOW, characters=10_000).total == Decimal("0.392")
    scale = catalog_from_config(parse_config('[service_plans]\ncartesia = "scale"\n', Path("costledger.toml")))
    assert price("cartesia", "sonic-3", at=NOW, catalog=scale, characters=10_000).total == Decimal("0.37375")
    pro = catalog_from_config(parse_config('[service_plans]\ncartesia = "pro"\n', Path("costledger.toml")))
    assert price("cartesia", "sonic-turbo", at=NOW, catalog=pro, characters=10_000).total == Decimal("0.5")


def test_an_unknown_plan_is_a_config_error_naming_the_plans() -> None:
    with pytest.raises(ConfigError, match=r"service_plans.cartesia: unknown plan 'gold'; expected one of pro, scale"):
        parse_config('[service_plans]\ncartesia = "gold"\n', Path("costledger.toml"))


@pytest.mark.parametrize(
    ("model", "characters", "expected"),
    [
        ("eleven_flash_v2_5", 10_000, "0.5"),
        ("eleven_turbo_v2_5", 1000, "0.05"),
        ("eleven_multilingual_v2", 10_000, "1"),
    ],
)
def test_elevenlabs_is_priced_per_character_by_model(model: str, characters: int, expected: str) -> None:
    assert price("elevenlabs", model, at=NOW, characters=characters).total == Decimal(expected)


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        ("whisper-1", {"audio_seconds": 120}, "0.012"),  # $0.006 per minute
        ("tts-1", {"characters": 10_000}, "0.15"),  # $15 per million characters
        ("tts-1-hd", {"input_characters": 10_000}, "0.3"),  # $30 per million characters
        # gpt-4o-transcribe: audio input $6, text input $2.50, output $10 per MTok.
        ("gpt-4o-transcribe", {"input_tokens": 1200, "input_audio_tokens": 1000, "output_tokens": 300}, "0.0095"),
        # gpt-4o-mini-tts: text input $0.60, audio output $12 per MTok.
        ("gpt-4o-mini-tts", {"input_tokens": 1000, "output_tokens": 10_000}, "0.1206"),
    ],
)
def test_openai_audio_models(model: str, usage: dict[str, int], expected: str) -> None:
    assert price("openai", model, at=NOW, **usage).total == Decimal(expected)


# -- model ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "name", "same_as"),
    [
        ("anthropic", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("openai", "openai/gpt-4o", "gpt-4o"),
        ("google", "google/gemini-2.5-flash", "gemini-2.5-flash"),
        ("google", "models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("google", "gemini/gemini-2.5-flash", "gemini-2.5-flash"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ],
)
def test_prefixed_and_dated_ids_are_the_same_model(service: str, name: str, same_as: str) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 100}
    assert price(service, name, at=NOW, **usage).total == price(service, same_as, at=NOW, **usage).total


@pytest.mark.parametrize(
    ("name", "hint"), [("claude-opus-4-6-fast", "claude-opus-4-6"), ("claude-sonnet-4-5-whatever", "claude-sonnet-4-5")]
)
def test_a_loose_prefix_match_is_not_guessed(name: str, hint: str) -> None:
    with pytest.raises(UnknownPrice) as caught:
        price("anthropic", name, at=NOW, input_tokens=1000)
    assert caught.value.suggestions[0] == hint
    assert "did you mean" in str(caught.value)


def test_did_you_mean_lists_only_real_model_ids() -> None:
    from costledger.pricing import default_catalog

    genai = default_catalog().genai
    assert genai is not None
    real = {m.id for _, m in genai.models("anthropic")} | set(genai.names("anthropic"))
    with pytest.raises(UnknownPrice) as caught:
        price("anthropic", "claude-sonet-4-5", at=NOW, input_tokens=1)
    assert caught.value.suggestions and set(caught.value.suggestions) <= real
    assert "claude-4.5-sonnet" not in genai.names("anthropic")  # a match pattern, not an id


# -- every entry says where it stands ---------------------------------------------------------------------


def test_every_packaged_entry_has_source_date_read_granularity_and_confidence() -> None:
    for entry in builtin_entries():
        assert "https://" in entry.source, entry.ref
        assert entry.read is not None and entry.granularity, entry.ref
        assert entry.confidence in ("published", "unconfirmed"), entry.ref


def test_the_catalog_lists_every_voice_and_telephony_service() -> None:
    raw = tomllib.loads(resources.files("costledger.pricing").joinpath("data/services.toml").read_text())
    services = {p["service"] for p in raw["prices"]}
    assert {"deepgram", "cartesia", "elevenlabs", "livekit", "twilio", "stripe"} <= services


def test_a_recorded_voice_call_is_priced_per_event_from_the_catalog(tmp_path: Path) -> None:
    from costledger import Ledger

    with Ledger(tmp_path / "call.db") as ledger, ledger.session("call-1") as call:
        # gpt-realtime: 10,000 prompt tokens of which 9,000 audio, 2,000 output of which 1,800 audio.
        call.record("openai", "gpt-realtime", input_tokens=10_000, input_audio_tokens=9000, output_tokens=2000,
                    output_audio_tokens=1800, ts=NOW)  # fmt: skip
        call.record("twilio", "voice-inbound", phone_minutes="4.2", ts=NOW)  # 5 minutes at $0.0085
        call.record(
            "livekit", "cloud", agent_session_minutes="4.3", sip_minutes="4.2", ts=NOW
        )  # 5 × $0.01 + 5 × $0.004
        call.record("stripe", "card-international", amount_usd="5", ts=NOW)  # 4.4% of $5 = $0.22, + $0.30
    # 1,000 × $4 + 9,000 × $32 + 200 × $16 + 1,800 × $64 per million = $0.004 + $0.288 + $0.0032 + $0.1152
    assert call.by_service == {"openai": Decimal("0.4104"), "twilio": Decimal("0.0425"),
                               "livekit": Decimal("0.07"), "stripe": Decimal("0.52")}  # fmt: skip


def test_an_unknown_price_raised_again_does_not_keep_the_frames_of_earlier_callers() -> None:
    # The catalog caches UnknownPrice and raises the same object for the same model every time. Each
    # raise used to chain its frames onto the traceback of the ones before, so every caller's locals (a
    # batch of events, an import's lines) stayed alive: a 200k-event import grew to 1.3 GB.
    catalog = catalog_from_config(parse_config(""))
    depths = []
    for _ in range(3):

        def caller() -> None:
            catalog.price("anthropic", "claude-haiku-4-20250514", {"input_tokens": 10}, NOW)

        try:
            caller()
        except UnknownPrice as exc:
            depths.append(len(traceback.extract_tb(exc.__traceback__)))
    assert depths[0] == depths[1] == depths[2]
