"""Where a batch's time goes, into a fresh file and into the 1M-event store (`python -m bench._ingest_breakdown`).

Not a benchmark of its own (no ratio against a baseline): the measurement behind storage.py's
account of why ingest into a big SQLite store is slower. For each target it records the
events of bench/ingest.py in batches of 1,000 through `Ledger.record_many` and prints

- the time of each statement of the write path (SQLAlchemy's cursor events), of the commits
  (the WAL's write and fsync, and the checkpoints SQLite runs inside a commit: the commits far
  above the median), of closing (the last connection's checkpoint) and of everything else
  (validation, pricing, the rollup buckets: Python, the same in both);
- the write-ahead log's frames (pages written) per commit, by the B-tree they belong to (the
  log's frame headers read after the run, matched to `dbstat`), with checkpoints held off so
  the log keeps every commit's frames.
"""

from __future__ import annotations

import collections
import shutil
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.ingest import BATCH, batches, bench_dir, big_store, measured
from costledger import Ledger
from costledger.config import Config
from costledger.storage import StorageSettings

EVENTS = 30_000


def timed_run(target: str, events: list[dict[str, Any]]) -> None:
    ledger = Ledger(target, config=Config(storage=StorageSettings()))
    engine = ledger.store.engine
    spent: dict[str, float] = collections.defaultdict(float)
    started: dict[int, float] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started[id(conn)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        spent[" ".join(statement.split()[:3])] += time.perf_counter() - started[id(conn)]

    commits: list[float] = []
    dialect: Any = engine.dialect
    plain_commit = dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        at = time.perf_counter()
        plain_commit(dbapi_connection)
        commits.append(time.perf_counter() - at)

    dialect.do_commit = do_commit
    at = time.perf_counter()
    for chunk in batches(events):
        ledger.record_many(chunk)
    closing = time.perf_counter()
    ledger.close()
    end = time.perf_counter()
    typical = statistics.median(commits)
    checkpoints = [c for c in commits if c > 5 * typical]
    total = end - at
    print(f"  {len(events) / total:,.0f} events/s; {total:.2f} s = statements {sum(spent.values()):.2f} + commits "
          f"{sum(commits):.2f} (median {typical * 1000:.1f} ms; {len(checkpoints)} with a checkpoint: "
          f"{sum(checkpoints):.2f} s) + close {end - closing:.2f} + the rest (Python) "
          f"{total - sum(spent.values()) - sum(commits) - (end - closing):.2f}")  # fmt: skip
    for statement, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"    {seconds:6.3f} s  {statement}")


def frames_by_tree(target: str, events: list[dict[str, Any]], commits: int = 10) -> None:
    ledger = Ledger(target, config=Config(storage=StorageSettings()))
    with ledger.store.engine.connect() as connection:  # every pooled connection: no checkpoint
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    for chunk in batches(events)[:commits]:
        ledger.record_many(chunk)
    log = Path(target + "-wal").read_bytes()
    page_size = struct.unpack(">I", log[8:12])[0]
    frames = [struct.unpack(">II", log[at : at + 8]) for at in range(32, len(log) - 24 - page_size + 1, 24 + page_size)]
    with sqlite3.connect(target) as db:
        owner = dict(db.execute("SELECT pageno, name FROM dbstat"))
    ledger.close()
    ends = [i for i, (_, commit_size) in enumerate(frames) if commit_size]
    last = frames[ends[-2] + 1 : ends[-1] + 1]
    per_tree = collections.Counter(owner.get(page, "(new)") for page, _ in last)
    print(f"  frames per commit {[b - a for a, b in zip([-1, *ends], ends, strict=False)]}; the last by B-tree:")
    print("    " + ", ".join(f"{name} {n}" for name, n in per_tree.most_common()))
    distinct = collections.Counter(owner.get(page, "(new)") for page in {page for page, _ in frames})
    print(f"  distinct pages in {len(ends)} commits (what a checkpoint writes): {sum(distinct.values())}, "
          + ", ".join(f"{name} {n}" for name, n in distinct.most_common(4)))  # fmt: skip


def main() -> None:
    events = measured(EVENTS)
    big = big_store()
    for run in (timed_run, frames_by_tree):
        for name in ("fresh file", f"{big.name} (copy)"):
            with tempfile.TemporaryDirectory(dir=bench_dir()) as tmp:
                target = str(Path(tmp) / "ledger.db")
                if name != "fresh file":
                    shutil.copyfile(big, target)
                load = Path("/proc/loadavg").read_text().split()[0]
                print(f"{run.__name__} {name}, batches of {BATCH}, load {load}:")
                run(target, events)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
