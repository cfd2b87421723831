"""Import: peak memory and events/s of `costledger import` of a ~2M-event sutra log.

The log is generated in the format of /work/shared/samples (one session record per line
with its `usages`; floats for costs; livekit room seconds; the tracker's made-up haiku
model), with varied users, tiers, modes, sessions and models over a month. It is written
once to $COSTLEDGER_BENCH_DIR (default `.bench/`) and reused. Each import runs as a user
runs it: `costledger import FILE --format sutra-jsonl --db FRESH.db --json`, in a
subprocess whose peak RSS comes from the kernel (`os.wait4`'s ru_maxrss).

Baselines measured in the same run:
- memory: the same import of a log 10x smaller (the big file's first tenth): constant memory
  means the big import peaks about where the small one does; also the big file's size;
- rate: `Ledger.record_many` in batches of 1,000 of the small log's events, already parsed
  into dicts in memory, into a fresh file (what the import costs over recording alone:
  reading the file twice, validating and pricing it before anything is stored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EVENTS = 2_000_000
SMALL = EVENTS // 10
GOAL_MB = 300
BATCH = 1000
VERSION = 1  # bump when the generator changes, so a stale log is not reused

# (service, model, operation, tracker's $/Mtok in, out): what a council of agents calls.
_LLM = [
    ("anthropic", "claude-sonnet-4-20250514", 3.0, 15.0, 0.55),
    ("anthropic", "claude-haiku-4-20250514", 0.25, 1.25, 0.15),  # the tracker's model that does not exist
    ("anthropic", "claude-sonnet-4-5", 3.0, 15.0, 0.1),
    ("openai", "gpt-4o", 2.5, 10.0, 0.1),
    ("openai", "gpt-4.1-mini", 0.4, 1.6, 0.05),
    ("google", "gemini-2.5-flash", 0.3, 2.5, 0.05),
]
_WEIGHTS = [w for *_, w in _LLM]
# council_mode → (fewest, most) LLM calls in a session, as in the sample (single 1-3 … combined 12-16)
_MODES = {"single": (1, 4), "rights": (5, 9), "experts": (4, 8), "combined": (10, 16)}
_TIERS = ["explorer", "creator", "professional"]
USERS = 20_000


def bench_dir() -> Path:
    folder = Path(os.environ.get("COSTLEDGER_BENCH_DIR", ".bench"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _usage(service: str, operation: str, cost: float, at: dt.datetime, model: str | None, **meters: Any) -> dict:
    return {
        "service": service,
        "operation": operation,
        "input_tokens": meters.get("input_tokens", 0),
        "output_tokens": meters.get("output_tokens", 0),
        "audio_seconds": meters.get("audio_seconds", 0.0),
        "characters": meters.get("characters", 0),
        "estimated_cost_usd": round(cost, 6),
        "timestamp": at.isoformat(),
        "metadata": {"model": model} if model else {},
    }


def session_record(rng: random.Random, number: int, start: dt.datetime) -> dict[str, Any]:
    """One sutra session record: LLM calls of the council, then STT, TTS and the LiveKit room."""
    user = rng.randrange(USERS)
    mode = rng.choice(list(_MODES))
    began = start + dt.timedelta(seconds=rng.randrange(30 * 24 * 3600))
    at = began + dt.timedelta(seconds=rng.randrange(5, 90))
    usages = []
    for _ in range(rng.randint(*_MODES[mode])):
        service, model, rate_in, rate_out, _w = rng.choices(_LLM, _WEIGHTS)[0]
        inp, out = rng.randrange(800, 16_000), rng.randrange(40, 1800)
        cost = (inp * rate_in + out * rate_out) / 1e6
        usages.append(_usage(service, "llm_completion", cost, at, model, input_tokens=inp, output_tokens=out))
        at += dt.timedelta(seconds=rng.randrange(1, 20))
    seconds = int((at - began).total_seconds()) + rng.randrange(10, 120)
    voice = mode != "single" or rng.random() < 0.5
    if voice:
        usages.append(_usage("deepgram", "stt_transcribe", seconds / 60 * 0.0043, at, "nova-3", audio_seconds=seconds))
        chars = rng.randrange(200, 6000)
        usages.append(_usage("cartesia", "tts_synthesize", chars * 0.000006, at, "sonic-3", characters=chars))
    ended = at + dt.timedelta(seconds=rng.randrange(1, 30))
    usages.append(_usage("livekit", "room_usage", seconds / 60 * 0.02 * 2, ended, None, audio_seconds=seconds))
    room = f"room-{number:07d}"
    return {
        "session_id": room,
        "room_name": room,
        "council_mode": mode,
        "agent_name": "council",
        "user_id": f"user-{user}",
        "tier": _TIERS[user % len(_TIERS)],
        "started_at": began.isoformat(),
        "ended_at": ended.isoformat(),
        "duration_seconds": seconds,
        "usages": usages,
        "total_cost_usd": sum(u["estimated_cost_usd"] for u in usages),
    }


def generate(events: int, seed: int = 20) -> tuple[Path, Path, int, int]:
    """(big log, its first tenth, events in each): written once per VERSION and size, then reused."""
    folder = bench_dir()
    big, small = folder / f"sutra-{events}-v{VERSION}.jsonl", folder / f"sutra-{events}-v{VERSION}-tenth.jsonl"
    counts = folder / f"sutra-{events}-v{VERSION}.counts"
    if big.is_file() and small.is_file() and counts.is_file():
        n_big, n_small = map(int, counts.read_text().split())
        return big, small, n_big, n_small
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    written = small_written = 0
    with open(f"{big}.part", "w") as out, open(f"{small}.part", "w") as tenth:
        number = 0
        while written < events:
            record = session_record(rng, number, start)
            line = json.dumps(record) + "\n"
            out.write(line)
            if written < events // 10:
                tenth.write(line)
                small_written += len(record["usages"])
            written += len(record["usages"])
            number += 1
    os.replace(f"{big}.part", big)
    os.replace(f"{small}.part", small)
    counts.write_text(f"{written} {small_written}\n")
    return big, small, written, small_written


def run_import(log: Path, db: Path) -> tuple[float, float, float, dict[str, Any]]:
    """(seconds, CPU seconds, peak RSS in MB, the summary printed) of `costledger import` in a subprocess."""
    command = [sys.executable, "-c", "from costledger.cli import main; main()", "import", str(log),
               "--format", "sutra-jsonl", "--db", str(db), "--json"]  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"imports: costledger import failed ({process.returncode}): {err.read().decode()[-2000:]}")
        summary = json.loads(out.read())
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, summary  # ru_maxrss is in KiB on Linux


def record_many_rate(log: Path, db: Path) -> tuple[float, float]:
    """(events/s, CPU µs per event) of record_many of the log's events, parsed into dicts beforehand."""
    from costledger import Ledger
    from costledger.importers.common import Options
    from costledger.importers.sutra import read

    events = [event for parsed in read(log, Options()) for event in parsed.events]
    ledger = Ledger(db)
    started, cpu = time.perf_counter(), time.process_time()
    accepted = 0
    for i in range(0, len(events), BATCH):
        accepted += ledger.record_many(events[i : i + BATCH]).accepted
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    ledger.close()
    if accepted != len(events):
        raise SystemExit(f"imports: record_many accepted {accepted} of {len(events)}")
    return len(events) / seconds, cpu / len(events) * 1e6


def main() -> None:
    big, small, n_big, n_small = generate(EVENTS)
    size_mb = big.stat().st_size / 2**20
    with tempfile.TemporaryDirectory(dir=bench_dir()) as tmp:
        small_s, small_cpu, small_mb, small_out = run_import(small, Path(tmp) / "small.db")
        big_s, big_cpu, big_mb, big_out = run_import(big, Path(tmp) / "big.db")
        rate, rate_cpu = record_many_rate(small, Path(tmp) / "record_many.db")
    for out, n in ((small_out, n_small), (big_out, n_big)):
        if out["accepted"] != n:
            raise SystemExit(f"imports: imported {out['accepted']} events of {n}")
    where = f"[{n_big:,} events, {size_mb:,.0f} MB log; tenth: {n_small:,} events]"
    verdict = "within" if big_mb <= GOAL_MB else "OVER"
    print(
        f"import peak RSS: {big_mb:,.0f} MB for {n_big:,} events, {small_mb:,.0f} MB for the tenth (baseline), "
        f"{big_mb / small_mb:.2f}x for 10x the events; {big_mb / size_mb:.0%} of the log's size; "
        f"{verdict} the {GOAL_MB} MB goal  {where}"
    )
    big_rate, small_rate = n_big / big_s, n_small / small_s
    print(
        f"import rate: costledger import {big_rate:,.0f} events/s ({big_s:,.0f} s; tenth {small_rate:,.0f} events/s), "
        f"record_many of the tenth's events pre-parsed {rate:,.0f} events/s (baseline), "
        f"{big_rate / rate:.0%} of it  {where}"
    )
    # CPU time per event: what the two passes cost, less at the mercy of other jobs than the wall clock.
    big_us, small_us = big_cpu / n_big * 1e6, small_cpu / n_small * 1e6
    print(
        f"import CPU: costledger import {big_us:,.0f} µs/event (tenth {small_us:,.0f} µs/event, process start "
        f"included), record_many pre-parsed {rate_cpu:,.0f} µs/event (baseline), {big_us / rate_cpu:.2f}x  "
        f"[load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"
    )


if __name__ == "__main__":
    main()
