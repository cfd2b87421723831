"""Pricing: median µs per event, costledger's Catalog.price vs genai-prices' calc_price, same events, same run.

10,000 varied LLM events (Anthropic, OpenAI, Google; cache reads and writes, 5-minute and
1-hour; audio tokens in and out, cached audio (gpt-realtime, Gemini); long context; service
tiers through genai-prices' price variants (flex, priority, batch); dates before and after
price changes). Every cost is compared: the two must agree to the last digit, or the
benchmark fails.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

EVENTS = 10_000
REPEATS = 5

MODELS = [
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-opus-4-6"),
    ("anthropic", "claude-opus-4-1-20250805"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-mini"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.5-flash"),
    ("google", "gemini-2.0-flash"),
]


AUDIO_MODELS = [("openai", "gpt-realtime"), ("openai", "gpt-4o-transcribe"), ("google", "gemini-2.5-flash")]
# Tiers genai-prices prices for these models from its variants' dates on (2026-10-12 / 2026-10-14).
TIERS = {"openai": ("flex", "priority", "batch"), "anthropic": ("batch",), "google": ("batch",)}
TIERED_FROM = dt.datetime(2026, 10, 15, tzinfo=dt.UTC)

Event = tuple[str, str, dict[str, int], dt.datetime, str | None]


def workload(n: int, seed: int = 3) -> list[Event]:
    rng = random.Random(seed)
    start = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    out: list[Event] = []
    for _ in range(n):
        audio = rng.random() < 0.15
        service, model = rng.choice(AUDIO_MODELS if audio else MODELS)
        long = not audio and rng.random() < 0.1
        inp = rng.randrange(200_001, 900_000) if long else rng.randrange(100, 150_000)
        usage = {"input_tokens": inp, "output_tokens": rng.randrange(10, 8000)}
        if rng.random() < 0.5:
            usage["cache_read_tokens"] = rng.randrange(0, inp // 2)
        if audio:
            usage["input_audio_tokens"] = rng.randrange(0, inp - usage.get("cache_read_tokens", 0))
            if "cache_read_tokens" in usage:  # cached audio is part of both the cache reads and the audio
                usage["cache_audio_read_tokens"] = rng.randrange(
                    0, min(usage["cache_read_tokens"], usage["input_audio_tokens"]) + 1
                )
            if model == "gpt-realtime":
                usage["output_audio_tokens"] = rng.randrange(0, usage["output_tokens"])
        if service == "anthropic" and rng.random() < 0.3:
            usage["cache_write_tokens"] = writes = rng.randrange(0, inp // 3)
            if rng.random() < 0.5:
                usage["cache_write_1h_tokens"] = hour = rng.randrange(0, writes + 1)
                usage["cache_write_5m_tokens"] = writes - hour
        at = start + dt.timedelta(seconds=rng.randrange(0, 400 * 86400))
        tier = None
        if not audio and rng.random() < 0.2:
            tier = rng.choice(TIERS[service])
            at = TIERED_FROM + dt.timedelta(seconds=rng.randrange(0, 40 * 86400))
        out.append((service, model, usage, at, tier))
    return out


def _kind(catalog: Any, event: Event) -> str | None:
    from costledger import UnknownPrice

    try:
        return str(catalog.resolve(event[0], event[1], event[3], event[4]).kind)
    except UnknownPrice:
        return None


def medians_us(runs: list[Callable[[], None]], n: int) -> list[float]:
    """Median µs per event of each run, the runs taking turns so a busy machine slows them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(REPEATS):
        for run, out in zip(runs, times, strict=True):
            started = time.perf_counter()
            run()
            out.append((time.perf_counter() - started) / n * 1e6)
    return [statistics.median(t) for t in times]


def main() -> None:
    from genai_prices import Usage, calc_price

    from costledger.pricing import Catalog

    catalog = Catalog()
    events = workload(EVENTS)
    # Our corrections price some models differently on purpose; compare like with like.
    # A tier a model has no variant for is unpriced by us (genai-prices would price it at standard): left out.
    events = [e for e in events if _kind(catalog, e) == "genai-prices"]
    theirs_in = [
        (Usage(**usage), model, service, at, catalog.price_context(tier)) for service, model, usage, at, tier in events
    ]

    ours_out: list[Any] = []
    theirs_out: list[Any] = []

    def ours() -> None:
        price = catalog.price
        ours_out[:] = [price(service, model, usage, at, tier).total for service, model, usage, at, tier in events]

    def theirs() -> None:
        theirs_out[:] = [
            calc_price(usage, model, provider_id=service, genai_request_timestamp=at, price_context=context).total_price
            for usage, model, service, at, context in theirs_in
        ]

    # A fresh catalog per run would measure its warm-up; a long-running process pays that once.
    ours()
    theirs()
    a, b = medians_us([ours, theirs], len(events))
    wrong = [(e, x, y) for e, x, y in zip(events, ours_out, theirs_out, strict=True) if x != y]
    if wrong:
        event, x, y = wrong[0]
        raise SystemExit(f"pricing: {len(wrong)} results differ, e.g. {event}: costledger {x}, genai-prices {y}")
    tiered = sum(1 for e in events if e[4])
    audio = sum(1 for e in events if "input_audio_tokens" in e[2])
    hour = sum(1 for e in events if "cache_write_1h_tokens" in e[2])
    print(
        f"pricing: costledger {a:.1f} µs/event, genai-prices calc_price {b:.1f} µs/event (baseline), {b / a:.1f}x"
        f"  [{len(events):,} events ({audio:,} with audio tokens, {hour:,} with 1h cache writes, {tiered:,} at a"
        f" service tier), all {len(events):,} results equal, median of {REPEATS}]"
    )


if __name__ == "__main__":
    main()
