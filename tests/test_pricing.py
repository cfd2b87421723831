"""The pricing core: every service, cache parts, long context, dates, overrides, aliases, unknowns."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import costledger
from costledger import UnknownPrice
from costledger.config import parse_config
from costledger.pricing import Catalog, price
from costledger.pricing.catalog import catalog_from_config

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def catalog_with(toml: str) -> Catalog:
    return catalog_from_config(parse_config(toml, Path("costledger.toml")))


# -- every service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "model", "usage", "expected"),
    [
        # $3 / $15 per million tokens.
        ("anthropic", "claude-sonnet-4-20250514", {"input_tokens": 8000, "output_tokens": 350}, "0.02925"),
        # $2.50 / $10.
        ("openai", "gpt-4o", {"input_tokens": 10_000, "output_tokens": 1000}, "0.035"),
        # $0.30 / $2.50.
        ("google", "gemini-2.5-flash", {"input_tokens": 10_000, "output_tokens": 1000}, "0.0055"),
        # $0.0043 per audio minute: 300 s = 5 min.
        ("deepgram", "nova-3", {"audio_seconds": 300}, "0.0215"),
        # 1 credit per character; a credit on the Startup plan is $49 / 1,250,000 = $0.0000392.
        ("cartesia", "sonic-3", {"characters": 4200}, "0.16464"),
        # WebRTC participant minutes (older events' meter): 10 × $0.0005.
        ("livekit", "cloud", {"participant_minutes": 10}, "0.005"),
        # 2.9% of $29 = $0.841, + $0.30 = $1.141, rounded half-up to the cent.
        ("stripe", "card", {"amount_usd": 29}, "1.14"),
        # $10 per 1,000 searches.
        ("anthropic", "web-search", {"web_searches": 3}, "0.03"),
    ],
)
def test_each_service_is_priced_exactly(service: str, model: str, usage: dict[str, int], expected: str) -> None:
    cost = price(service, model, at=NOW, **usage)
    assert cost.total == Decimal(expected)
    assert isinstance(cost.total, Decimal)
    assert sum(cost.breakdown.values()) == cost.total
    assert cost.entry.source  # every price says where it came from


def test_services_without_a_model_use_their_default_product() -> None:
    assert price("livekit", at=NOW, participant_minutes=1).total == Decimal("0.0005")
    assert price("stripe", at=NOW, amount_usd=10).total == Decimal("0.59")  # $0.29 + $0.30


def test_a_breakdown_names_each_meter_and_the_entry() -> None:
    cost = price("stripe", "card", at=NOW, amount_usd="100")
    assert cost.breakdown == {"amount_usd": Decimal("2.9"), "per_event": Decimal("0.30")}
    assert cost.entry.ref == "builtin:stripe/card@2020-01-01"
    assert cost.entry.source.startswith("https://stripe.com/pricing")
    data = cost.as_dict()
    assert data["cost_usd"] == "3.2" and data["breakdown"] == {"amount_usd": "2.9", "per_event": "0.3"}


def test_web_searches_are_billed_on_top_of_tokens() -> None:
    cost = price("anthropic", "claude-sonnet-4-5", at=NOW, input_tokens=1000, output_tokens=100, web_searches=2)
    assert cost.breakdown["web_searches"] == Decimal("0.02")
    assert cost.total == Decimal("0.003") + Decimal("0.0015") + Decimal("0.02")


# -- cache parts --------------------------------------------------------------------------------


def test_cache_reads_are_part_of_input_and_billed_at_their_price() -> None:
    # 12,000 prompt tokens of which 8,000 read from cache: 4,000 × $3 + 8,000 × $0.30 + 420 × $15.
    cost = price(
        "anthropic", "claude-sonnet-4-5", at=NOW, input_tokens=12_000, cache_read_tokens=8000, output_tokens=420
    )
    assert cost.breakdown == {
        "input_tokens": Decimal("0.012"),
        "cache_read_tokens": Decimal("0.0024"),
        "output_tokens": Decimal("0.0063"),
    }
    assert cost.total == Decimal("0.0207")


def test_cache_writes_are_billed_at_their_price() -> None:
    # Haiku 4.5: $1 input, $1.25 cache write, $0.10 cache read, $5 output.
    cost = price(
        "anthropic",
        "claude-haiku-4-5",
        at=NOW,
        input_tokens=10_000,
        cache_write_tokens=4000,
        cache_read_tokens=2000,
        output_tokens=100,
    )
    assert cost.breakdown["input_tokens"] == Decimal("0.004")
    assert cost.breakdown["cache_write_tokens"] == Decimal("0.005")
    assert cost.breakdown["cache_read_tokens"] == Decimal("0.0002")
    assert cost.total == Decimal("0.0097")


def test_a_cache_write_without_its_own_price_is_plain_input() -> None:
    # OpenAI bills no cache writes: those tokens are ordinary input at $2.50.
    with_writes = price("openai", "gpt-4o", at=NOW, input_tokens=10_000, cache_write_tokens=3000)
    assert with_writes.total == price("openai", "gpt-4o", at=NOW, input_tokens=10_000).total == Decimal("0.025")


# -- long context -------------------------------------------------------------------------------


def test_long_context_tier_of_sonnet_4_5_from_genai_prices() -> None:
    over = price("anthropic", "claude-sonnet-4-5", at=NOW, input_tokens=300_000, output_tokens=1000)
    assert over.total == Decimal("1.8") + Decimal("0.0225")  # $6 / $22.50 above 200K input tokens
    at_limit = price("anthropic", "claude-sonnet-4-5", at=NOW, input_tokens=200_000, output_tokens=1000)
    assert at_limit.total == Decimal("0.6") + Decimal("0.015")  # 200K itself is still the base price
    assert over.entry.kind == "genai-prices"


def test_long_context_of_sonnet_4_is_our_correction_from_its_date_on() -> None:
    usage = {"input_tokens": 250_000, "cache_read_tokens": 50_000, "output_tokens": 2000}
    cost = price("anthropic", "claude-sonnet-4-20250514", at=NOW, **usage)
    # 200,000 × $6 + 50,000 × $0.60 + 2,000 × $22.50 per million.
    assert cost.total == Decimal("1.2") + Decimal("0.03") + Decimal("0.045")
    assert cost.entry.kind == "correction"
    assert cost.entry.source == "https://docs.anthropic.com/en/docs/about-claude/pricing#long-context-pricing"
    # Before the 1M-token window existed, genai-prices' flat price stands.
    before = price("anthropic", "claude-sonnet-4-20250514", at=at("2025-07-01"), **usage)
    assert before.entry.kind == "genai-prices"
    assert before.total == Decimal("0.6") + Decimal("0.015") + Decimal("0.03")
    # Short requests cost the same under the correction as under genai-prices.
    short = {"input_tokens": 8000, "output_tokens": 350}
    assert price("anthropic", "claude-sonnet-4-0", at=NOW, **short).total == Decimal("0.02925")


def test_gemini_2_5_pro_long_context_tier() -> None:
    cost = price("google", "gemini-2.5-pro", at=NOW, input_tokens=250_000, output_tokens=1000)
    assert cost.total == Decimal("0.625") + Decimal("0.015")  # $2.50 / $15 above 200K


# -- dates ----------------------------------------------------------------------------------------


def test_a_price_change_applies_from_its_date_and_history_keeps_the_old_price() -> None:
    # OpenAI cut o3 from $10 / $40 to $2 / $8 on 2025-06-10.
    usage = {"input_tokens": 1000, "output_tokens": 1000}
    assert price("openai", "o3", at=at("2025-06-01"), **usage).total == Decimal("0.05")
    assert price("openai", "o3", at=at("2025-06-11"), **usage).total == Decimal("0.01")


def test_opus_4_6_long_context_tier_ends_on_2026_03_13() -> None:
    # genai-prices: long-context prices for Opus 4.6 before 2026-03-13, flat from then on.
    before = price("anthropic", "claude-opus-4-6", at=at("2026-03-12"), input_tokens=300_000)
    after = price("anthropic", "claude-opus-4-6", at=at("2026-03-14"), input_tokens=300_000)
    assert before.total == Decimal("3")
    assert after.total == Decimal("1.5")
    assert after.entry.since == dt.date(2026, 3, 13)
    sonnet_before = price("anthropic", "claude-sonnet-4-6", at=at("2026-02-01"), input_tokens=300_000)
    assert sonnet_before.total == Decimal("1.8")


def test_a_price_does_not_apply_before_it_exists() -> None:
    with pytest.raises(UnknownPrice):
        price("cartesia", "sonic-3", at=at("2025-09-30"), characters=1000)
    assert price("cartesia", "sonic-3", at=at("2025-10-01"), characters=1000).total == Decimal("0.0392")


def test_price_requires_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        price("openai", "gpt-4o", at=dt.datetime(2026, 1, 1), input_tokens=1)


# -- overrides and aliases from config -----------------------------------------------------------------

OVERRIDE = """
[[prices]]
service = "anthropic"
model = "claude-sonnet-4-20250514"
since = 2026-03-01
input_per_mtok = "2.70"
output_per_mtok = "13.50"
source = "negotiated"

[aliases]
"claude-sonnet" = "anthropic:claude-sonnet-4-20250514"
"cheap" = "openai:gpt-4o-mini"

[[prices]]
service = "docparse"
model = "v1"
since = 2026-01-01
rates = { pdf_pages = { usd = "0.01", per = 1 }, images = { usd = "4", per = 1000 } }
"""


def test_an_override_wins_from_its_date_on_and_the_builtin_before() -> None:
    catalog = catalog_with(OVERRIDE)
    usage = {"input_tokens": 8000, "output_tokens": 350}
    before = catalog.price("anthropic", "claude-sonnet-4-20250514", usage, at("2026-02-28T23:59:59"))
    assert before.total == Decimal("0.02925")
    assert before.entry.kind != "override"
    on = catalog.price("anthropic", "claude-sonnet-4-20250514", usage, at("2026-03-01"))
    assert on.total == Decimal("0.0216") + Decimal("0.004725")
    assert on.entry.kind == "override" and on.entry.source == "negotiated"
    # Every spelling of the model shares the override.
    assert catalog.price("anthropic", "claude-sonnet-4-0", usage, at("2026-03-02")).total == on.total


def test_an_alias_from_config_names_a_catalog_model() -> None:
    catalog = catalog_with(OVERRIDE)
    usage = {"input_tokens": 8000, "output_tokens": 350}
    assert catalog.price("anthropic", "claude-sonnet", usage, at("2026-02-01")).total == Decimal("0.02925")
    # An alias may name another service's model: $0.15 / $0.60 per million.
    cheap = catalog.price("openai", "cheap", {"input_tokens": 1_000_000, "output_tokens": 1_000_000}, NOW)
    assert cheap.total == Decimal("0.75") and cheap.entry.model == "gpt-4o-mini"


def test_custom_meters_from_config_are_priced() -> None:
    catalog = catalog_with(OVERRIDE)
    assert {"pdf_pages", "images"} <= catalog.custom_meters
    cost = price("docparse", "v1", at=NOW, catalog=catalog, pdf_pages=12, images=500)
    assert cost.breakdown == {"pdf_pages": Decimal("0.12"), "images": Decimal("2")}
    with pytest.raises(ValueError, match="unknown meter 'pdf_pages'"):
        price("docparse", "v1", at=NOW, pdf_pages=12)  # the default catalog knows no such meter


def test_a_meter_the_entry_does_not_price_is_not_guessed() -> None:
    with pytest.raises(UnknownPrice, match="no price for characters"):
        price("deepgram", "nova-3", at=NOW, audio_seconds=60, characters=10)


# -- unknowns -------------------------------------------------------------------------------------------


def test_an_unknown_model_is_refused_with_close_matches() -> None:
    with pytest.raises(UnknownPrice) as caught:
        price("anthropic", "claude-haikuu-4-5", at=NOW, input_tokens=10)
    assert "did you mean claude-haiku-4-5" in str(caught.value)
    assert caught.value.suggestions[0] == "claude-haiku-4-5"
    assert caught.value.service == "anthropic" and caught.value.model == "claude-haikuu-4-5"


def test_an_unknown_service_is_refused_with_close_matches() -> None:
    with pytest.raises(UnknownPrice, match="did you mean deepgram"):
        price("deepgramm", "nova-3", at=NOW, audio_seconds=1)
    with pytest.raises(UnknownPrice) as caught:
        price("deepgram", "nova-9", at=NOW, audio_seconds=1)
    assert "nova-3" in caught.value.suggestions


# -- exactness ------------------------------------------------------------------------------------------


def test_fractional_quantities_are_exact_decimals() -> None:
    # LiveKit's participant-minutes before 2025-06-01 kept fractions: 0.1 × $0.02.
    cost = price("livekit", "cloud", at=at("2025-01-01"), participant_minutes=0.1)
    assert cost.total == Decimal("0.002")
    cost = price("deepgram", "nova-3", at=NOW, audio_seconds=1)
    assert cost.total == Decimal("0.0043") / 60  # does not terminate; the store rounds to nano-dollars
    assert cost.as_dict()["cost_usd"] == "0.000071667"


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), 10**12 + 1, True, "lots"])
def test_price_refuses_bad_quantities(bad: object) -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        price("openai", "gpt-4o", at=NOW, input_tokens=bad)


# -- import cost (a contract, not a benchmark) ------------------------------------------------------------


def test_import_costledger_takes_under_300_ms() -> None:
    # CPU time of the import in a fresh interpreter, best of three: what the import costs, not how
    # busy the machine running the suite happens to be (wall time there varies threefold).
    code = "import time; t = time.process_time(); import costledger; print(time.process_time() - t)"
    best = min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(3))  # fmt: skip
    assert best <= 0.3, f"import costledger took {best * 1000:.0f} ms of CPU"


def test_import_costledger_loads_neither_genai_prices_nor_sqlalchemy() -> None:
    heavy = "{'genai_prices', 'sqlalchemy'}"
    code = f"import sys, costledger; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert costledger.__version__


# -- the prices our users pay, against the providers' published pages ----------------------------------

ANTHROPIC = "https://docs.anthropic.com/en/docs/about-claude/pricing"
OPENAI = "https://platform.openai.com/docs/pricing"
GOOGLE = "https://ai.google.dev/gemini-api/docs/pricing"

# (service, model, $/MTok input, output, cache read, cache write (None: billed as plain input),
#  long context above 200K input tokens: (input, output, cache read, cache write) or None, source)
PUBLISHED = [
    ("anthropic", "claude-opus-4-5", "5", "25", "0.50", "6.25", None, ANTHROPIC),
    ("anthropic", "claude-opus-4-1", "15", "75", "1.50", "18.75", None, ANTHROPIC),
    ("anthropic", "claude-opus-4-0", "15", "75", "1.50", "18.75", None, ANTHROPIC),
    ("anthropic", "claude-sonnet-4-5", "3", "15", "0.30", "3.75", ("6", "22.50", "0.60", "7.50"), ANTHROPIC),
    ("anthropic", "claude-sonnet-4-20250514", "3", "15", "0.30", "3.75", ("6", "22.50", "0.60", "7.50"), ANTHROPIC),
    ("anthropic", "claude-haiku-4-5", "1", "5", "0.10", "1.25", None, ANTHROPIC),
    ("anthropic", "claude-3-5-haiku-latest", "0.80", "4", "0.08", "1", None, ANTHROPIC),
    ("openai", "gpt-4o", "2.50", "10", "1.25", None, None, OPENAI),
    ("openai", "gpt-4o-2024-05-13", "5", "15", None, None, None, OPENAI),
    ("openai", "gpt-4o-mini", "0.15", "0.60", "0.075", None, None, OPENAI),
    ("openai", "gpt-4.1", "2", "8", "0.50", None, None, OPENAI),
    ("openai", "gpt-4.1-mini", "0.40", "1.60", "0.10", None, None, OPENAI),
    ("openai", "gpt-4.1-nano", "0.10", "0.40", "0.025", None, None, OPENAI),
    ("openai", "gpt-5", "1.25", "10", "0.125", None, None, OPENAI),
    ("openai", "gpt-5-mini", "0.25", "2", "0.025", None, None, OPENAI),
    ("openai", "gpt-5-nano", "0.05", "0.40", "0.005", None, None, OPENAI),
    ("openai", "o3", "2", "8", "0.50", None, None, OPENAI),
    ("openai", "o4-mini", "1.10", "4.40", "0.275", None, None, OPENAI),
    ("google", "gemini-2.5-pro", "1.25", "10", "0.125", None, ("2.50", "15", "0.25", None), GOOGLE),
    ("google", "gemini-2.5-flash", "0.30", "2.50", "0.03", None, None, GOOGLE),
    ("google", "gemini-2.5-flash-lite", "0.10", "0.40", "0.01", None, None, GOOGLE),
    ("google", "gemini-2.0-flash", "0.10", "0.40", "0.025", None, None, GOOGLE),
    ("google", "gemini-2.0-flash-lite", "0.075", "0.30", None, None, None, GOOGLE),
]


def per_mtok(service: str, model: str, meter: str, *, long: bool = False) -> Decimal:
    """What one million tokens of `meter` cost, through the whole pricing path (not the entry's fields)."""
    base = 1_000_000 if long else 100_000  # a million prompt tokens is itself long context
    scale = Decimal(1) if long else Decimal(10)
    prompt = {"input_tokens": base}
    if meter == "input_tokens":
        usage = prompt
    elif meter == "output_tokens":
        usage = {**prompt, "output_tokens": base}
    else:
        usage = {"input_tokens": base, meter: base}  # all of the prompt is that cache part
    total = price(service, model, at=NOW, **usage).total
    if meter == "output_tokens":
        total -= price(service, model, at=NOW, **prompt).total
    return total * scale


@pytest.mark.parametrize(
    ("service", "model", "inp", "out", "read", "write", "long", "source"),
    PUBLISHED,
    ids=[row[1] for row in PUBLISHED],
)
def test_prices_match_the_providers_published_pricing(
    service: str,
    model: str,
    inp: str,
    out: str,
    read: str | None,
    write: str | None,
    long: tuple[str, str, str, str | None] | None,
    source: str,
) -> None:
    assert source.startswith("https://")
    assert per_mtok(service, model, "input_tokens") == Decimal(inp)
    assert per_mtok(service, model, "output_tokens") == Decimal(out)
    # A cache part without a price of its own is billed as plain input.
    assert per_mtok(service, model, "cache_read_tokens") == Decimal(read or inp)
    assert per_mtok(service, model, "cache_write_tokens") == Decimal(write or inp)
    if long is None:
        assert per_mtok(service, model, "input_tokens", long=True) == Decimal(inp)
        assert per_mtok(service, model, "output_tokens", long=True) == Decimal(out)
    else:
        long_in, long_out, long_read, long_write = long
        assert per_mtok(service, model, "input_tokens", long=True) == Decimal(long_in)
        assert per_mtok(service, model, "output_tokens", long=True) == Decimal(long_out)
        assert per_mtok(service, model, "cache_read_tokens", long=True) == Decimal(long_read)
        assert per_mtok(service, model, "cache_write_tokens", long=True) == Decimal(long_write or long_in)


def test_price_refuses_cache_parts_larger_than_the_input_they_are_part_of() -> None:
    # Priced anyway, 20 cache reads out of 10 input tokens would bill -10 plain input tokens.
    with pytest.raises(ValueError, match=r"cache_read_tokens \(20\) exceeds input_tokens \(10\)"):
        costledger.price("openai", "gpt-4o", input_tokens=10, cache_read_tokens=20)
    with pytest.raises(ValueError, match=r"cache_read_tokens \+ cache_write_tokens \(12\) exceed input_tokens \(10\)"):
        costledger.price("openai", "gpt-4o", input_tokens=10, cache_read_tokens=6, cache_write_tokens=6)
