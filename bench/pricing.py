"""Pricing: median µs per event, costledger's Catalog.price vs genai-prices' calc_price, same events, same run.

10,000 varied LLM events (Anthropic, OpenAI, Google; cache reads and writes; long
context; dates before and after price changes). Every cost is compared: the two
must agree to the last digit, or the benchmark fails.
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


def workload(n: int, seed: int = 3) -> list[tuple[str, str, dict[str, int], dt.datetime]]:
    rng = random.Random(seed)
    start = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    out = []
    for _ in range(n):
        service, model = rng.choice(MODELS)
        long = rng.random() < 0.1
        inp = rng.randrange(200_001, 900_000) if long else rng.randrange(100, 150_000)
        usage = {"input_tokens": inp, "output_tokens": rng.randrange(10, 8000)}
        if rng.random() < 0.5:
            usage["cache_read_tokens"] = rng.randrange(0, inp // 2)
        if service == "anthropic" and rng.random() < 0.3:
            usage["cache_write_tokens"] = rng.randrange(0, inp // 3)
        at = start + dt.timedelta(seconds=rng.randrange(0, 400 * 86400))
        out.append((service, model, usage, at))
    return out


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
    events = [e for e in events if catalog.resolve(e[0], e[1], e[3]).kind == "genai-prices"]
    theirs_in = [(Usage(**usage), model, service, at) for service, model, usage, at in events]

    ours_out: list[Any] = []
    theirs_out: list[Any] = []

    def ours() -> None:
        price = catalog.price
        ours_out[:] = [price(service, model, usage, at).total for service, model, usage, at in events]

    def theirs() -> None:
        theirs_out[:] = [
            calc_price(usage, model, provider_id=service, genai_request_timestamp=at).total_price
            for usage, model, service, at in theirs_in
        ]

    # A fresh catalog per run would measure its warm-up; a long-running process pays that once.
    ours()
    theirs()
    a, b = medians_us([ours, theirs], len(events))
    wrong = [(e, x, y) for e, x, y in zip(events, ours_out, theirs_out, strict=True) if x != y]
    if wrong:
        event, x, y = wrong[0]
        raise SystemExit(f"pricing: {len(wrong)} results differ, e.g. {event}: costledger {x}, genai-prices {y}")
    print(
        f"pricing: costledger {a:.1f} µs/event, genai-prices calc_price {b:.1f} µs/event (baseline), {b / a:.1f}x"
        f"  [{len(events):,} events, all {len(events):,} results equal, median of {REPEATS}]"
    )


if __name__ == "__main__":
    main()
