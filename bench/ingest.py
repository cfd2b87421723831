"""Ingest: events/s of `Ledger.record_many` (batches of 1,000) against raw writes of the same rows.

SQLite: record_many into a fresh file vs `sqlite3.executemany` of the same event rows
(same columns, same table and indexes, same WAL + synchronous=FULL, one commit per
batch) into another fresh file. PostgreSQL: record_many (with rollups and sessions)
into a fresh schema vs a psycopg COPY of the same rows, one commit per batch.

record_many does everything it does in production: validates each event, prices it,
skips duplicates through the unique event_id, updates rollups and sessions in the
same transaction and commits before returning. The raw baselines only write rows.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costledger import clock

BATCH = 1000
SQLITE_EVENTS = 20_000
PG_EVENTS = 20_000
REPEATS = 3
PG_SERVER = os.environ.get("COSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# (service, model, usage maker): the mix of a voice + text agent workload.
_LLM = [
    ("anthropic", "claude-sonnet-4-20250514"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-5"),
    ("google", "gemini-2.5-flash"),
]
AGENTS = ["scholar", "critic", "skeptic", "judge", "scribe", "host", "analyst", "poet"]
TIERS = ["free", "creator", "pro", "pay-per-call"]
MODES = ["text", "voice", "combined"]


def workload(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` realistic events as JSON-shaped dicts: sessions of ~40 events, several services."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    out: list[dict[str, Any]] = []
    session = 0
    while len(out) < n:
        session += 1
        user = f"u_{rng.randrange(500)}"
        tier, mode = rng.choice(TIERS), rng.choice(MODES)
        ts = start + dt.timedelta(minutes=rng.randrange(60 * 24 * 20))
        for _ in range(rng.randrange(20, 60)):
            ts += dt.timedelta(seconds=rng.randrange(1, 30))
            kind = rng.random()
            event: dict[str, Any] = {
                "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "session_id": f"s_{session}",
                "user_id": user,
                "tier": tier,
                "mode": mode,
                "endpoint": "/deliberate",
                "tags": {"env": "prod"},
            }
            if kind < 0.75:
                service, model = rng.choice(_LLM)
                inp = rng.randrange(500, 60_000)
                usage = {"input_tokens": inp, "output_tokens": rng.randrange(50, 2000)}
                if rng.random() < 0.5:
                    usage["cache_read_tokens"] = rng.randrange(0, inp // 2)
                if rng.random() < 0.1:
                    usage["cache_write_tokens"] = rng.randrange(0, inp // 4)
                event.update(service=service, model=model, agent=rng.choice(AGENTS), usage=usage)
            elif kind < 0.85:
                event.update(service="deepgram", model="nova-3", usage={"audio_seconds": rng.randrange(1, 600)})
            elif kind < 0.93:
                event.update(service="cartesia", model="sonic-3", usage={"characters": rng.randrange(20, 4000)})
            elif kind < 0.99:
                event.update(service="livekit", model="cloud", usage={"participant_minutes": rng.randrange(1, 60)})
            else:
                event.update(service="stripe", model="card", usage={"amount_usd": rng.choice(["29", "99", "4.99"])})
            out.append(event)
            if len(out) == n:
                break
    return out


def batches(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def rows_for(events: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The event rows record_many stores, computed once, for the raw baselines."""
    from costledger import Ledger
    from costledger.events import parse_events

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "rows.db")
        now = clock.utcnow()
        rows = [ledger._row(e, now) for e in parse_events(events)]
        ledger.close()
    return list(rows[0]), rows


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def ledger_run(target: str, events: list[dict[str, Any]], *, hooks: bool = True) -> Callable[[], None]:
    from costledger import Ledger

    ledger = Ledger(target)
    if not hooks:
        # What the recording core costs: without the alert and budget counters other capabilities hook in.
        ledger.store.on_write.clear()
    chunks = batches(events)

    def run() -> None:
        accepted = 0
        for chunk in chunks:
            accepted += ledger.record_many(chunk).accepted
        ledger.close()
        if accepted != len(events):
            raise SystemExit(f"ingest: record_many accepted {accepted} of {len(events)}")

    return run


def sqlite_raw_run(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Callable[[], None]:
    from costledger.store import Store

    Store(str(path)).close()  # the same table and indexes record_many writes into
    values = [tuple(_sqlite_value(row[c]) for c in columns) for row in rows]
    sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def run() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        for chunk in batches(values):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, chunk)
            connection.execute("COMMIT")
        connection.close()

    return run


def _sqlite_value(value: Any) -> Any:
    # The text SQLAlchemy stores for dates and times on SQLite.
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def bench_sqlite(events: list[dict[str, Any]], columns: list[str], rows: list[dict[str, Any]]) -> None:
    ours, core, raw = [], [], []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(len(events) / timed(ledger_run(str(Path(tmp) / "ledger.db"), events)))
            core.append(len(events) / timed(ledger_run(str(Path(tmp) / "core.db"), events, hooks=False)))
            raw.append(len(rows) / timed(sqlite_raw_run(Path(tmp) / "raw.db", columns, rows)))
    a, c, b = statistics.median(ours), statistics.median(core), statistics.median(raw)
    where = f"[{len(events):,} events, batches of {BATCH}, median of {REPEATS}]"
    print(
        f"ingest sqlite: costledger record_many {a:,.0f} events/s, raw sqlite3.executemany {b:,.0f} events/s "
        f"(baseline), {a / b:.0%} of raw  {where}"
    )
    print(
        f"ingest sqlite (no alert/budget hooks): costledger record_many {c:,.0f} events/s, raw {b:,.0f} events/s "
        f"(baseline), {c / b:.0%} of raw  {where}"
    )


def _pg_schema() -> tuple[str, str] | None:
    try:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # no server: say so, the SQLite figures still stand
        print(f"ingest postgresql: skipped ({exc.__class__.__name__}: {exc})".splitlines()[0])
        return None
    sep = "&" if "?" in PG_SERVER else "?"
    return schema, f"{PG_SERVER}{sep}options=-csearch_path%3D{schema}"


def _drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_copy_run(url: str, columns: list[str], rows: list[dict[str, Any]]) -> Callable[[], None]:
    import psycopg

    from costledger.store import Store

    Store(url).close()
    values = [tuple(row[c] for c in columns) for row in rows]

    def run() -> None:
        with psycopg.connect(url) as connection:
            for chunk in batches(values):
                with connection.cursor() as cursor, cursor.copy(f"COPY events ({', '.join(columns)}) FROM STDIN") as cp:
                    for value in chunk:
                        cp.write_row(value)
                connection.commit()

    return run


def bench_postgres(events: list[dict[str, Any]], columns: list[str], rows: list[dict[str, Any]]) -> None:
    ours, raw = [], []
    for _ in range(REPEATS):
        for runner, out in ((ledger_run, ours), (pg_copy_run, raw)):
            made = _pg_schema()
            if made is None:
                return
            schema, url = made
            try:
                run = runner(url, events) if runner is ledger_run else runner(url, columns, rows)  # type: ignore[call-arg]
                out.append(len(events) / timed(run))
            finally:
                _drop(schema)
    a, b = statistics.median(ours), statistics.median(raw)
    print(
        f"ingest postgresql: costledger record_many {a:,.0f} events/s, raw COPY {b:,.0f} events/s (baseline), "
        f"{a / b:.0%} of raw  [{len(events):,} events, batches of {BATCH}, median of {REPEATS}]"
    )


def main() -> None:
    events = workload(max(SQLITE_EVENTS, PG_EVENTS))
    columns, rows = rows_for(events)
    # Drop the id column the database assigns.
    columns = [c for c in columns if c != "id"]
    bench_sqlite(events[:SQLITE_EVENTS], columns, rows[:SQLITE_EVENTS])
    bench_postgres(events[:PG_EVENTS], columns, rows[:PG_EVENTS])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
