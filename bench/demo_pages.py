"""Every dashboard page and API read on the demo's ledger, as a person who ran `make demo` gets them.

Ours: `costledger serve` (one worker) on the ledger `costledger demo --no-serve` records (90 days,
seed 7: about 37,000 events, 2,700 sessions, 160 users, payments through the Stripe converter), the
clock pinned as for the other dashboard figures, each read of bench/dashboard.py's READS timed the
same way (cold, then the warm median, with the server's CPU time). Baseline, same run: `GET
/healthz`. Goal (issue 16): every page served in under 300 ms on the demo data, Margins included.
Also the bytes of the overview's first load (goal < 1.5 MB).

The demo's ledger is recorded once per schema head and kept in COSTLEDGER_BENCH_DIR (default .bench/).

    python -m bench demo_pages
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import _ledgers
from bench.dashboard import READS, first_load, measure, serving, values

GOAL_MS = 300.0


def demo_ledger() -> _ledgers.Built:
    from costledger.store.migrate import numbered_head

    where = _ledgers.folder() / f"demo-{_ledgers.now():%Y%m%dT%H%M%S}-r{numbered_head()}"
    ledger = where / "costledger-demo" / "ledger.db"
    note = "cached"
    if not ledger.exists():
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        started = time.perf_counter()
        command = [str(Path(sys.executable).parent / "costledger"), "demo", "--no-serve"]
        done = subprocess.run(command, cwd=where, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(where, ignore_errors=True)
            raise SystemExit(f"bench demo_pages: costledger demo failed: {done.stderr.strip()[-500:]}")
        note = f"recorded now in {time.perf_counter() - started:.0f} s"
    with sqlite3.connect(ledger) as connection:
        events, sessions = connection.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM sessions)"
        ).fetchone()
        rollups = connection.execute("SELECT count(*) FROM rollup_daily").fetchone()[0]
    return _ledgers.Built("demo", ledger, where / "costledger.toml", events, sessions, rollups, note)


def main() -> None:
    _ledgers.pin_clock()
    built = demo_ledger()
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"  [demo: {built.events:,} events, {built.sessions:,} sessions; {built.note}; {load}; "
          f"clock pinned to {os.environ['COSTLEDGER_NOW']}]")  # fmt: skip
    given = values(built)
    slowest = ("", 0.0)
    with serving(built) as (client, pid):
        floor = measure(client, pid, "/healthz", False, 200)
        print(f"baseline GET /healthz @demo: {floor.warm_ms:.1f} ms (median of {floor.runs})")
        for read in READS:
            path = read.path.format(**given)
            ours = measure(client, pid, path, read.api, read.status)
            slowest = max(slowest, (path, ours.warm_ms), key=lambda s: s[1])
            print(f"{'api' if read.api else 'page'} {path[:58]:<58} @demo: {ours.warm_ms:8.1f} ms  baseline "
                  f"/healthz {floor.warm_ms:.1f} ms  ratio {ours.warm_ms / floor.warm_ms:6.0f}x  [server CPU "
                  f"{ours.cpu_ms:,.0f} ms, cold {ours.cold_ms:,.0f} ms, {ours.size:,} B]  goal <= {GOAL_MS:.0f} ms "
                  f"{'✓' if ours.warm_ms <= GOAL_MS else '✗'}")  # fmt: skip
        first_load(client)
    print(
        f"slowest read on the demo: {slowest[0]} {slowest[1]:.1f} ms; goal <= {GOAL_MS:.0f} ms "
        f"{'✓' if slowest[1] <= GOAL_MS else '✗'}; load average at the end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
