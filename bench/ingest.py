"""Ingest: events/s of `Ledger.record_many` (batches of 1,000), fresh and into a store already holding 1M events.

SQLite, all through the real write path with a realistic spread (thousands of users,
~25k sessions a month, dozens of agents, every model, mode and tier):

1. record_many into a fresh file vs `sqlite3.executemany` of the same event rows (same
   columns, table and indexes, WAL + synchronous=FULL, one commit per batch) into another
   fresh file: what pricing, rollups and sessions cost over writing the rows alone.
2. record_many into a copy of a store already holding 1M events (built once through
   record_many and cached, see `big_store`) vs record_many of the same events into a
   fresh file (the baseline): the goal is >= 90% of the fresh rate. The events carry ids
   as costledger makes them for an event without one (the Client, the server, the
   tracker: UUIDv7, time first, see events.new_event_id). The same again with SQLite's
   own default cache (2 MB, no memory map), costledger's setting before `[storage]`, so
   what the setting buys is in the same run; and with random ids (uuid4, or a provider's
   response id) in a store of random ids, which add each key at a random page of the
   unique index.

PostgreSQL: record_many (with rollups and sessions) into a fresh schema vs a psycopg COPY
of the same rows, one commit per batch.

record_many does everything it does in production: validates each event, prices it,
skips duplicates through the unique event_id, updates rollups and sessions in the
same transaction and commits before returning. The raw baselines only write rows.

The 1M store takes minutes to build: it is kept in $COSTLEDGER_BENCH_DIR (default `.bench/`
in the repository), named by the schema's head revision and GENERATOR, and copied before
each measured run so every run starts from the same store.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from costledger import clock
from costledger.storage import ENV as STORAGE_ENV
from costledger.storage import StorageSettings

BATCH = 1000
SQLITE_EVENTS = 30_000
PG_EVENTS = 20_000
REPEATS = 3
SQLITE_REPEATS = 5  # the 1M-store ratio moves most with the machine's load: more pairs
PG_SERVER = os.environ.get("COSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

BIG = 1_000_000
# Bump when events() changes what it makes: a cached store of the old workload is then rebuilt.
# 2: ids as costledger makes them (UUIDv7) unless random ones are asked for.
GENERATOR = 2
BENCH_DIR_ENV = "COSTLEDGER_BENCH_DIR"
# SQLite's own defaults (its 1,000-page checkpoint is ~4 MB), costledger's before [storage]: the second baseline.
OLD_DEFAULT = StorageSettings(sqlite_cache_mb=2, sqlite_mmap_mb=0, sqlite_checkpoint_mb=4)

# (service, model): the LLM mix of a voice + text agent workload.
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
# Dozens of agents: eight roles, each in six variants (prompts, personas) that are told apart.
AGENTS = [f"{role}-{k}" for role in ("scholar", "critic", "skeptic", "judge", "scribe", "host", "analyst", "poet")
          for k in range(1, 7)]  # fmt: skip
TIERS = ["free", "creator", "pro", "pay-per-call"]
TIER_WEIGHTS = [50, 25, 20, 5]
MODES = ["text", "voice", "combined"]
ENDPOINTS = ["/deliberate", "/chat", "/voice", "/summarize"]
USERS = 5_000
# ~25k sessions of ~40 events a month: a session starts every ~104 s.
SESSIONS_PER_DAY = 833
# The big store holds October's sessions; the measured events are the days after them.
BIG_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def events(
    seed: int = 7, start: dt.datetime = BIG_START, first_session: int = 0, ids: str = "costledger"
) -> Iterator[dict[str, Any]]:
    """Realistic events as JSON-shaped dicts, session after session, without end.

    Users (USERS, a few far busier than most) keep their tier; each session has a mode, two to
    five of the AGENTS, 20 to 60 events a few seconds apart over every service and model. Their
    ids: "costledger" as new_event_id makes them when the event is recorded (at its time), or
    "random" (128 random bits, as uuid4 or a provider's response id).
    """
    from costledger.events import event_id_at

    rng = random.Random(seed)
    tiers = random.Random(1).choices(TIERS, TIER_WEIGHTS, k=USERS)  # one user's tier in every run
    for session in itertools.count(first_session):
        user = int(USERS * rng.random() ** 1.5)
        tier, mode, endpoint = tiers[user], rng.choice(MODES), rng.choice(ENDPOINTS)
        agents = rng.sample(AGENTS, rng.randrange(2, 6))
        ts = start + dt.timedelta(seconds=(session - first_session) * 86_400 / SESSIONS_PER_DAY + rng.randrange(90))
        for _ in range(rng.randrange(20, 61)):
            ts += dt.timedelta(seconds=rng.randrange(1, 30), microseconds=rng.randrange(1_000_000))
            kind = rng.random()
            event: dict[str, Any] = {
                "event_id": event_id_at(ts, rng.getrandbits(74))
                if ids == "costledger"
                else uuid.UUID(int=rng.getrandbits(128)).hex,
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "session_id": f"s_{session}",
                "user_id": f"u_{user}",
                "tier": tier,
                "mode": mode,
                "endpoint": endpoint,
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
                event.update(service=service, model=model, agent=rng.choice(agents), usage=usage)
            elif kind < 0.85:
                event.update(service="deepgram", model="nova-3", usage={"audio_seconds": rng.randrange(1, 600)})
            elif kind < 0.93:
                event.update(service="cartesia", model="sonic-3", usage={"characters": rng.randrange(20, 4000)})
            elif kind < 0.99:
                event.update(service="livekit", model="cloud", usage={"participant_minutes": rng.randrange(1, 60)})
            else:
                event.update(service="stripe", model="card", usage={"amount_usd": rng.choice(["29", "99", "4.99"])})
            yield event


def workload(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` realistic events (see events())."""
    return list(itertools.islice(events(seed), n))


def measured(n: int, ids: str = "costledger") -> list[dict[str, Any]]:
    """`n` events that come after the big store's: the sessions of the days that follow."""
    days = -(-BIG // 40 // SESSIONS_PER_DAY)  # ~40 events a session
    later = events(seed=99, start=BIG_START + dt.timedelta(days=days), first_session=BIG, ids=ids)
    return list(itertools.islice(later, n))


def batches(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def bench_dir() -> Path:
    return Path(os.environ.get(BENCH_DIR_ENV) or Path(__file__).resolve().parent.parent / ".bench")


def big_store(ids: str = "costledger") -> Path:
    """A SQLite store of BIG events recorded through record_many, built once per schema, GENERATOR and ids."""
    from costledger import Ledger
    from costledger.config import Config
    from costledger.store.migrate import head

    path = bench_dir() / f"ingest-{BIG // 1000}k-{head()}-g{GENERATOR}-{ids}.db"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for leftover in building.parent.glob(building.name + "*"):
        leftover.unlink()
    print(f"ingest: building a {BIG:,}-event store once in {path} (minutes) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    # The building's own cache does not change what is stored: a big one only makes it quicker.
    ledger = Ledger(str(building), config=Config(storage=StorageSettings(sqlite_cache_mb=1024)))
    source = events(ids=ids)
    for done in range(0, BIG, BATCH):
        ledger.record_many(list(itertools.islice(source, BATCH)))
        if done and done % 100_000 == 0:
            print(f"  {done:,} events, {time.perf_counter() - started:,.0f} s", file=sys.stderr, flush=True)
    ledger.close()  # the last connection checkpoints the WAL into the file
    with sqlite3.connect(building) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
    if count != BIG:
        raise SystemExit(f"ingest: the big store holds {count:,} events, not {BIG:,}")
    for suffix in ("-wal", "-shm"):
        Path(str(building) + suffix).unlink(missing_ok=True)
    building.rename(path)
    print(f"  built in {time.perf_counter() - started:,.0f} s", file=sys.stderr, flush=True)
    return path


def store_shape(path: Path) -> str:
    """What the big store holds: events, sessions, rollup rows per event, size."""
    with sqlite3.connect(path) as connection:
        (n,) = connection.execute("SELECT count(*) FROM events").fetchone()
        (s,) = connection.execute("SELECT count(*) FROM sessions").fetchone()
        (r,) = connection.execute("SELECT count(*) FROM rollup_daily").fetchone()
    return f"{n:,} events, {s:,} sessions, {r / n:.2f} rollup rows per event, {path.stat().st_size / 2**20:,.0f} MB"


def copy_store(source: Path, into: Path) -> str:
    """A copy of `source` in `into` (a run writes into it, the cached store stays as built)."""
    target = into / "big.db"
    shutil.copyfile(source, target)
    # On disk before the run: else the kernel writes the copy's 468 MB back while the run's commits
    # wait on their fsyncs, and the copy's cost is counted in the run's (no store in use is just copied).
    with target.open("rb") as copied:
        os.fsync(copied.fileno())
    return str(target)


def rows_for(events: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The event rows record_many stores, computed once, for the raw baselines."""
    from costledger import Ledger
    from costledger.config import Config
    from costledger.events import parse_events

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "rows.db", config=Config())
        now = clock.utcnow()
        rows = [ledger._row(e, now) for e in parse_events(events)]
        ledger.close()
    return list(rows[0]), rows


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def ledger_run(
    target: str, events: list[dict[str, Any]], *, hooks: bool = True, storage: StorageSettings | None = None
) -> Callable[[], None]:
    from costledger import Ledger
    from costledger.config import Config

    # A Config of its own: a costledger.toml near the working directory does not change the figures.
    ledger = Ledger(target, config=Config(storage=storage or StorageSettings()))
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


def bench_sqlite(
    events: list[dict[str, Any]], columns: list[str], rows: list[dict[str, Any]], foreign: list[dict[str, Any]]
) -> None:
    """`events` carry costledger's ids, `foreign` the same events with random ids."""
    big, big_foreign = big_store(), big_store("random")
    print(f"ingest: the {BIG:,}-event store: {store_shape(big)}", file=sys.stderr, flush=True)
    ours, core, raw, grown, old, fresh_foreign, grown_foreign = [], [], [], [], [], [], []
    # Interleaved: a machine busy for a while slows every kind of run alike.
    for _ in range(SQLITE_REPEATS):
        with tempfile.TemporaryDirectory(dir=bench_dir()) as tmp:
            here = Path(tmp)
            # The runs compared to the fresh file right after it.
            ours.append(len(events) / timed(ledger_run(str(here / "ledger.db"), events)))
            grown.append(len(events) / timed(ledger_run(copy_store(big, here), events)))
            (here / "big.db").unlink()
            old.append(len(events) / timed(ledger_run(copy_store(big, here), events, storage=OLD_DEFAULT)))
            (here / "big.db").unlink()
            fresh_foreign.append(len(foreign) / timed(ledger_run(str(here / "foreign.db"), foreign)))
            grown_foreign.append(len(foreign) / timed(ledger_run(copy_store(big_foreign, here), foreign)))
            core.append(len(events) / timed(ledger_run(str(here / "core.db"), events, hooks=False)))
            raw.append(len(rows) / timed(sqlite_raw_run(here / "raw.db", columns, rows)))
    a, c, b = statistics.median(ours), statistics.median(core), statistics.median(raw)
    g, o = statistics.median(grown), statistics.median(old)
    # The ratios to the fresh file are medians of each repeat's own ratio: its runs follow one another,
    # so a machine whose load changes between repeats shifts both sides of one ratio alike.
    g_ratio = statistics.median(x / y for x, y in zip(grown, ours, strict=True))
    o_ratio = statistics.median(x / y for x, y in zip(old, ours, strict=True))
    f_ratio = statistics.median(x / y for x, y in zip(grown_foreign, fresh_foreign, strict=True))
    where = f"[{len(events):,} events, batches of {BATCH}, median of {SQLITE_REPEATS}]"
    print(
        f"ingest sqlite: costledger record_many {a:,.0f} events/s, raw sqlite3.executemany {b:,.0f} events/s "
        f"(baseline), {a / b:.0%} of raw  {where}"
    )
    print(
        f"ingest sqlite (no alert/budget hooks): costledger record_many {c:,.0f} events/s, raw {b:,.0f} events/s "
        f"(baseline), {c / b:.0%} of raw  {where}"
    )
    now = StorageSettings()
    print(
        f"ingest sqlite into a {BIG // 1_000_000}M-event store: record_many {g:,.0f} events/s, into a fresh file "
        f"{a:,.0f} events/s (baseline), {g_ratio:.0%} of fresh  [goal >= 90%; cache {now.sqlite_cache_mb} MB, "
        f"mmap {now.sqlite_mmap_mb} MB, checkpoint at {now.sqlite_checkpoint_mb} MB; {len(events):,} events, "
        f"batches of {BATCH}, median of {SQLITE_REPEATS} paired ratios, per repeat: {_each(grown, ours)}]"
    )
    print(
        f"ingest sqlite into a {BIG // 1_000_000}M-event store with SQLite's defaults (cache 2 MB, no mmap, "
        f"checkpoint at ~4 MB; costledger's before [storage]): {o:,.0f} events/s, into a fresh file "
        f"{a:,.0f} events/s (baseline), "
        f"{o_ratio:.0%} of fresh  [median of {SQLITE_REPEATS} paired ratios, per repeat: "
        f"{_each(old, ours)}]"
    )
    print(
        f"ingest sqlite into a {BIG // 1_000_000}M-event store, random ids (uuid4 or a provider's, into a store "
        f"of random ids): {statistics.median(grown_foreign):,.0f} events/s, the same events into a fresh file "
        f"{statistics.median(fresh_foreign):,.0f} events/s (baseline), {f_ratio:.0%} of fresh  [goal >= 90%; "
        f"median of {SQLITE_REPEATS} paired ratios, per repeat: {_each(grown_foreign, fresh_foreign)}]"
    )


def _each(rates: list[float], baselines: list[float]) -> str:
    return ", ".join(f"{x / y:.0%}" for x, y in zip(rates, baselines, strict=True))


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
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(REPEATS):
        for out in (ours, raw):
            made = _pg_schema()
            if made is None:
                return
            schema, url = made
            try:
                run = ledger_run(url, events) if out is ours else pg_copy_run(url, columns, rows)
                out.append(len(events) / timed(run))
            finally:
                _drop(schema)
    a, b = statistics.median(ours), statistics.median(raw)
    print(
        f"ingest postgresql: costledger record_many {a:,.0f} events/s, raw COPY {b:,.0f} events/s (baseline), "
        f"{a / b:.0%} of raw  [{len(events):,} events, batches of {BATCH}, median of {REPEATS}]"
    )


def main() -> None:
    for variable in STORAGE_ENV.values():
        # The figures are of the defaults and of SQLite's own: an override in the shell would blur both.
        if os.environ.pop(variable, None) is not None:
            print(f"ingest: ${variable} ignored: the benchmark measures the default", file=sys.stderr)
    events = measured(max(SQLITE_EVENTS, PG_EVENTS))
    columns, rows = rows_for(events)
    # Drop the id column the database assigns.
    columns = [c for c in columns if c != "id"]
    bench_sqlite(events[:SQLITE_EVENTS], columns, rows[:SQLITE_EVENTS], measured(SQLITE_EVENTS, ids="random"))
    bench_postgres(events[:PG_EVENTS], columns, rows[:PG_EVENTS])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
