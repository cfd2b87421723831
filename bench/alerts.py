"""Alerts: one alert check after ingesting a session, at 1k, 10k and 100k sessions in the day.

Ours: the on-ingest evaluation (count the session into the period totals, then every
rule: session total, daily and month-to-date totals, per-user daily, unpriced, spike,
forecast) inside the write transaction, on a SQLite ledger that already holds N
sessions of the day, each from its own user. Timed per check, the transaction rolled
back so N stays put.

Baseline: what the tracker we replace does after each session: append the session to
the day's JSONL file (one record per session with its totals and per-agent/per-service
breakdown, ~600 bytes), then re-read the whole file to sum the day and compare it with
the daily threshold.

Times are the process's CPU time (time.process_time, user + system) for both sides:
on a shared machine wall-clock medians of a millisecond-long check mostly measure
when the scheduler ran us, not the check. 20 untimed checks warm each size up.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

SIZES = (1_000, 10_000, 100_000)
CHECKS = 200  # timed checks per size (ours)
WARMUP = 20
BASELINE_CHECKS = (200, 50, 10)  # the baseline re-reads the file each time: fewer at larger sizes
DAY = dt.date(2026, 11, 20)
RULES = """
[[alerts]]
kind = "daily_total"
per = "user"
threshold_usd = "50"
[[alerts]]
kind = "spike"
factor = "3"
[[alerts]]
kind = "forecast"
threshold_usd = "1000000"
"""


def session_events(n: int) -> list[dict[str, Any]]:
    """Session n: three priced events (LLM, speech-to-text, text-to-speech) from its own user."""
    ts = dt.datetime.combine(DAY, dt.time(8)) + dt.timedelta(seconds=n % 50_000)
    stamp = ts.isoformat() + "Z"
    common = {"session_id": f"s{n}", "user_id": f"u{n}", "tier": "creator", "mode": "voice", "ts": stamp}
    return [
        {**common, "event_id": f"s{n}-llm", "service": "anthropic", "model": "claude-sonnet-4-20250514",
         "usage": {"input_tokens": 8000, "output_tokens": 350}, "agent": "host"},
        {**common, "event_id": f"s{n}-stt", "service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 120}},
        {**common, "event_id": f"s{n}-tts", "service": "cartesia", "model": "sonic-3", "usage": {"characters": 1800}},
    ]  # fmt: skip


def fill(ledger: Any, start: int, stop: int) -> None:
    """Sessions start..stop of the day, one LLM event each (the check reads totals, not events)."""
    batch: list[dict[str, Any]] = []
    for n in range(start, stop):
        batch.append(session_events(n)[0])
        if len(batch) >= 10_000:
            ledger.record_many(batch)
            batch = []
    if batch:
        ledger.record_many(batch)


def our_checks(ledger: Any, size: int) -> list[float]:
    from costledger.events import parse_events
    from costledger.store.writer import write_events

    hooks = ledger.alerts.hooks
    out = []
    for i in range(-WARMUP, CHECKS):
        rows = [ledger._row(e) for e in parse_events(session_events(10_000_000 + size + i))]
        with ledger.store.engine.connect() as connection:
            transaction = connection.begin()
            written = write_events(connection, rows)  # the session's ingest (not timed)
            started = time.process_time()
            for hook in hooks:
                hook(connection, written)
            if i >= 0:
                out.append(time.process_time() - started)
            transaction.rollback()
    return out


def tracker_record(session_id: str, user_id: str) -> dict[str, Any]:
    """A session as the tracker wrote it to the day's JSONL: its fields, totals and breakdown (about 600 bytes)."""
    return {
        "session_id": session_id, "user_id": user_id, "tier": "creator", "mode": "voice", "day": DAY.isoformat(),
        "started_at": f"{DAY}T08:00:00Z", "ended_at": f"{DAY}T08:04:10Z", "duration_seconds": 250,
        "cost_usd": "0.0710", "llm_cost_usd": "0.0293", "stt_cost_usd": "0.0086", "tts_cost_usd": "0.0108",
        "tokens": {"input": 8000, "output": 350, "cache_read": 0, "cache_write": 0},
        "agents": {"host": {"calls": 1, "cost_usd": "0.0293", "model": "claude-sonnet-4-20250514"}},
        "services": {"anthropic": "0.0293", "deepgram": "0.0086", "cartesia": "0.0108"},
        "audio_seconds": 120, "characters": 1800, "endpoint": "/voice", "env": "prod",
    }  # fmt: skip


def baseline_checks(path: Path, size: int, repeats: int) -> list[float]:
    """Append the session, re-read the day's file, sum it, compare: the tracker's check."""
    threshold = Decimal("100")
    out = []
    for i in range(repeats):
        record = tracker_record(f"extra-{size}-{i}", "u")
        started = time.process_time()
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        total = Decimal(0)
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                total += Decimal(json.loads(line)["cost_usd"])
        _over = total > threshold
        out.append(time.process_time() - started)
    return out


def write_baseline_day(path: Path, start: int, stop: int) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for n in range(start, stop):
            handle.write(json.dumps(tracker_record(f"s{n}", f"u{n}")) + "\n")


def main() -> None:
    from costledger import Ledger
    from costledger.config import parse_config

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "bench.db", config=parse_config(RULES))
        jsonl = Path(tmp) / f"{DAY}.jsonl"
        done = 0
        medians = {}
        for size, repeats in zip(SIZES, BASELINE_CHECKS, strict=True):
            fill(ledger, done, size)
            write_baseline_day(jsonl, done, size)
            done = size
            ours = statistics.median(our_checks(ledger, size))
            base = statistics.median(baseline_checks(jsonl, size, repeats))
            medians[size] = ours
            print(
                f"alerts check @{size:>7,} sessions/day: ours {ours * 1e6:7.0f} µs, baseline (JSONL re-read) "
                f"{base * 1e6:9.0f} µs, {base / ours:7.1f}× faster  [sqlite, CPU time, median of {CHECKS} / {repeats}]"
            )
        ledger.close()
        flat = medians[SIZES[-1]] / medians[SIZES[0]]
        print(f"alerts check flatness: ours @100k / @1k = {flat:.2f}× (1.00 = flat)")


if __name__ == "__main__":
    main()
