"""Several processes writing to one database, on overlapping event ids: no event lost,
none counted twice, and the kept totals equal a recount of the events."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import costledger
from costledger import Ledger
from costledger.errors import UnknownPrice
from costledger.money import quantize
from costledger.store.check import check_store

WORKERS = 4
PER_WORKER = 300
STRIDE = 150  # worker k writes ids k*STRIDE … k*STRIDE+PER_WORKER-1: neighbours overlap by half
BATCH = 20
T0 = dt.datetime(2026, 11, 17, 8, 0, tzinfo=dt.UTC)

WORKER = """
import json, random, sys, time
sys.path.insert(0, {here!r})
from test_concurrency import event
from costledger import Ledger

url, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ids = list(range(worker * {stride}, worker * {stride} + {per}))
random.Random(worker).shuffle(ids)
while time.monotonic() < start_at:  # start together (one monotonic clock for the machine's processes)
    time.sleep(0.005)
ledger = Ledger(url)
accepted = duplicates = 0
for i in range(0, len(ids), {batch}):
    done = ledger.record_many([event(n) for n in ids[i : i + {batch}]])
    accepted += done.accepted
    duplicates += done.duplicates
ledger.close()
print(json.dumps({{"accepted": accepted, "duplicates": duplicates}}))
"""


def event(n: int) -> dict[str, Any]:
    """Event number n: mixed services and sessions, every 7th one of an unknown model."""
    ts = (T0 + dt.timedelta(minutes=7 * n)).isoformat()
    base = {"event_id": f"evt-{n}", "ts": ts, "session_id": f"room-{n % 13}", "user_id": f"u{n % 5}",
            "agent": f"agent-{n % 3}", "tier": "creator" if n % 2 else "free"}  # fmt: skip
    if n % 7 == 0:
        return {**base, "service": "anthropic", "model": "claude-imaginary-9", "usage": {"input_tokens": n}}
    if n % 3 == 0:
        return {**base, "service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": n % 100 + 1}}
    return {**base, "service": "anthropic", "model": "claude-sonnet-4-20250514",
            "usage": {"input_tokens": 1000 + n, "output_tokens": n % 50}}  # fmt: skip


def _expected(ids: range) -> tuple[Decimal, int]:
    total, unpriced = Decimal(0), 0
    for n in ids:
        e = event(n)
        try:
            cost = costledger.price(e["service"], e["model"], at=dt.datetime.fromisoformat(e["ts"]), **e["usage"])
        except UnknownPrice:
            unpriced += 1
            continue
        total += quantize(cost.total)  # the store keeps each event's cost to the nano-dollar
    return total, unpriced


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_concurrent_writers_lose_nothing_and_count_nothing_twice(store_url: str, tmp_path: Path) -> None:
    # The database is empty: the workers' first opens race to migrate it, too.
    script = tmp_path / "worker.py"
    here = str(Path(__file__).parent)
    script.write_text(WORKER.format(here=here, stride=STRIDE, per=PER_WORKER, batch=BATCH))
    start_at = time.monotonic() + 3
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), store_url, str(k), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(WORKERS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    unique = range(0, (WORKERS - 1) * STRIDE + PER_WORKER)
    assert sum(r["accepted"] for r in results) == len(unique)
    assert sum(r["accepted"] + r["duplicates"] for r in results) == WORKERS * PER_WORKER
    cost, unpriced = _expected(unique)
    with Ledger(store_url) as ledger:
        totals = ledger.report([])
        assert [(t.events, t.unpriced, t.cost_usd) for t in totals] == [(len(unique), unpriced, cost)]
        assert sum(t.events for t in ledger.report("session")) == len(unique)
        assert check_store(ledger.store) == []
