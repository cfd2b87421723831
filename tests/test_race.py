"""Two processes racing on the same event ids into one SQLite file: each event is counted once."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from costledger import Ledger
from costledger.store.check import check_store

EVENTS = 400
BATCH = 25

# Each process records the same events, in its own order and batches, and prints its counts.
RACER = """
import json, random, sys
from costledger import Ledger

db, seed, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
events = [
    {"event_id": f"race-{i}", "ts": "2026-11-02T10:%02d:00Z" % (i % 60), "service": "openai", "model": "gpt-4o",
     "usage": {"input_tokens": 1000 + i, "output_tokens": 10}, "session_id": f"s{i % 7}", "agent": f"a{i % 3}",
     "user_id": f"u{i % 5}"}
    for i in range(n)
]
random.Random(seed).shuffle(events)
sys.stdin.readline()  # start together
accepted = duplicates = 0
with Ledger(db) as ledger:
    for start in range(0, n, batch):
        result = ledger.record_many(events[start : start + batch])
        accepted += result.accepted
        duplicates += result.duplicates
print(json.dumps({"accepted": accepted, "duplicates": duplicates}))
"""


def expected_total() -> Decimal:
    # gpt-4o: $2.50 per million input tokens, $10 per million output tokens.
    tokens = sum(1000 + i for i in range(EVENTS))
    return Decimal(tokens) * Decimal("2.5") / 1_000_000 + Decimal(EVENTS * 10) * 10 / 1_000_000


@pytest.mark.timeout(180)
def test_two_processes_racing_on_the_same_ids_count_each_event_once(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    Ledger(db).close()  # the schema exists before the race: the race is about events
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(db), str(seed), str(EVENTS), str(BATCH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=150)
        assert racer.returncode == 0, err
        results.append(json.loads(out))
    # Between them the racers stored every event exactly once; each saw the rest as duplicates.
    assert sum(r["accepted"] for r in results) == EVENTS
    assert all(r["accepted"] + r["duplicates"] == EVENTS for r in results)
    with Ledger(db) as ledger:
        (total,) = ledger.report(by=[])
        assert total.events == EVENTS
        assert total.cost_usd == expected_total()
        # The rollups, sessions and session costs equal a recount of the stored events.
        assert check_store(ledger.store) == []
        sessions = [ledger.session_summary(f"s{k}") for k in range(7)]
        assert sum(s.events for s in sessions if s) == EVENTS
        assert sum((s.cost_usd for s in sessions if s), start=Decimal(0)) == expected_total()
