"""Period totals summed from rollup buckets equal the same totals counted event by event."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from costledger.alerts.totals import keys_of, period_sums
from costledger.store.schema import DIMENSIONS


def _rows(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    choices: dict[str, list[Any]] = {
        "service": ["anthropic", "deepgram", "stripe"],
        "model": ["claude-haiku-4-5", "nova-3", None],
        "agent": ["host", "judge", "", None],
        "user_id": ["u1", "u2", "u3", None],
        "tier": ["free", "pro", None],
        "mode": ["voice", "text", None],
    }
    days = [dt.date(2026, 10, 31), dt.date(2026, 11, 1), dt.date(2026, 11, 2)]
    return [
        {"day": rng.choice(days), **{d: rng.choice(choices[d]) for d in DIMENSIONS},
         "cost": None if rng.random() < 0.1 else rng.randrange(10**9)}
        for _ in range(n)
    ]  # fmt: skip


def _buckets(rows: list[dict[str, Any]], sign: int) -> dict[tuple[Any, ...], list[int]]:
    out: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        bucket = out.setdefault((row["day"], *(row[d] for d in DIMENSIONS)), [0, 0, 0])
        bucket[0] += sign
        bucket[1] += sign if row["cost"] is None else 0
        bucket[2] += sign * (row["cost"] or 0)
    return out


def test_sums_from_buckets_equal_counting_each_event() -> None:
    for seed in range(5):
        rows = _rows(seed, 400)
        for sign in (1, -1):
            expected: dict[tuple[str, str, str], list[int]] = {}
            for row in rows:
                for key in keys_of(row):
                    bucket = expected.setdefault(key, [0, 0, 0])
                    bucket[0] += sign
                    bucket[1] += sign if row["cost"] is None else 0
                    bucket[2] += sign * (row["cost"] or 0)
            assert period_sums(_buckets(rows, sign)) == expected
