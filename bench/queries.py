"""Dashboard and alert reads at 10k, 1M and 10M events: rollups vs GROUP BY over the raw events.

For each size and backend, one store is filled and then, in the same run:
- overview: `costledger.store.queries.overview()` (month to date, forecast, service
  shares, cost per user by tier, top users and agents from the per-period totals; cost
  per session by mode with p50/p90 and users per tier from the sessions table's month
  indexes), against the same figures computed by GROUP BY over the events table;
- alert check: today's total and the month to date (`month_to_date()`, from the
  rollups) compared with two thresholds, against a GROUP BY day over the month's events.
Both sides must agree to the nano-dollar before a ratio is printed, and the overview's
sessions part read from the month indexes must equal the same part ranked in Python from
every session of the month (the path filtered overviews take).

How the events are made (printed with the figures): a bulk path, not record_many, or
10M events would take an hour. The events are generated inside the database
(SQLite: a recursive CTE; PostgreSQL: generate_series) straight into the events
table, then rollup_daily, sessions and period_totals are built from them with
INSERT … SELECT … GROUP BY, the same rows the ledger keeps incrementally
(session_costs is not built: nothing here reads it). On PostgreSQL the tables are then
vacuumed, as autovacuum leaves them in production: that sets the visibility map, without
which an index-only scan still visits the table (the test server runs with autovacuum off,
so nothing else would). Workload: 90 days ending "today" (2026-11-23), sessions of
30 events in time order, 300 users on 4 tiers, 3 modes, 15 agents on 3 LLM models of
2 services plus deepgram, cartesia and livekit events; 0.1% unpriced.

Sizes: COSTLEDGER_BENCH_SIZES=10k,1M (default 10k,1M,10M); backends:
COSTLEDGER_BENCH_BACKENDS=sqlite (default sqlite,postgresql; PostgreSQL is skipped
with a note when the server is not reachable).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, text

T = TypeVar("T")

TODAY = dt.date(2026, 11, 23)
DAYS = 90
SESSION_EVENTS = 30
USERS = 300
ALERT_DAILY = Decimal("1000")
ALERT_MONTHLY = Decimal("20000")
PG_SERVER = os.environ.get("COSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SIZES = {"10k": 10_000, "1M": 1_000_000, "10M": 10_000_000}


def _columns(i: str, s: str, j: str) -> str:
    """The SELECT list of one generated event, from its number i, session s and position j (a template)."""
    agent = f"(({s}) * 7 + ({j})) % 15"
    llm = f"({j}) % 10 < 7"
    cost = f"CASE WHEN ({i}) % 1000 = 999 THEN NULL ELSE 1000000 + (({i}) * 2654435761) % 20000000 END"
    user = f"(({s}) * 7919) % {USERS}"
    return f"""
        {{event_id}}, {{ts_text}}, {{day}},
        CASE WHEN {llm} THEN (CASE WHEN {agent} % 3 = 2 THEN 'openai' ELSE 'anthropic' END)
             WHEN ({j}) % 10 = 7 THEN 'deepgram' WHEN ({j}) % 10 = 8 THEN 'cartesia' ELSE 'livekit' END,
        CASE WHEN {llm} THEN (CASE {agent} % 3 WHEN 0 THEN 'claude-sonnet-4-5' WHEN 1 THEN 'claude-haiku-4-5'
                              ELSE 'gpt-4o' END)
             WHEN ({j}) % 10 = 7 THEN 'nova-3' WHEN ({j}) % 10 = 8 THEN 'sonic-3' ELSE 'cloud' END,
        NULL, {{session}}, {{user_text}},
        CASE {user} % 4 WHEN 0 THEN 'free' WHEN 1 THEN 'creator' WHEN 2 THEN 'pro' ELSE 'pay-per-call' END,
        CASE WHEN {llm} THEN {{agent_text}} ELSE NULL END,
        CASE ({s}) % 3 WHEN 0 THEN 'text' WHEN 1 THEN 'voice' ELSE 'combined' END,
        '/deliberate', '{{{{"requests": 1}}}}', '{{{{}}}}', '{{{{}}}}',
        {cost},
        CASE WHEN ({i}) % 1000 = 999 THEN NULL ELSE 'catalog' END, NULL,
        CASE WHEN ({i}) % 1000 = 999 THEN 'unknown model' ELSE NULL END, NULL, {{ts_text}}
    """


EVENT_COLUMNS = (
    "event_id, ts, day, service, model, operation, session_id, user_id, tier, agent, mode, endpoint, usage, tags, "
    "meta, cost, cost_source, price_ref, unpriced_reason, recorded_cost, ingested_at"
)


def _spacing(n: int) -> int:
    sessions = -(-n // SESSION_EVENTS)
    return max(1, (DAYS * 86400 - SESSION_EVENTS * 20) // sessions)


def _start() -> str:
    return (TODAY - dt.timedelta(days=DAYS - 1)).isoformat() + " 00:00:00"


def generate_sqlite(connection: Connection, n: int) -> None:
    offset = f"(i / {SESSION_EVENTS}) * {_spacing(n)} + (i % {SESSION_EVENTS}) * 20"
    columns = _columns("i", f"i / {SESSION_EVENTS}", f"i % {SESSION_EVENTS}").format(
        event_id="printf('b%09d', i)",
        ts_text="strftime('%Y-%m-%d %H:%M:%S.000000', t)",
        day="date(t)",
        session=f"printf('s%08d', i / {SESSION_EVENTS})",
        user_text=f"'u' || (((i / {SESSION_EVENTS}) * 7919) % {USERS})",
        agent_text=f"'agent' || (((i / {SESSION_EVENTS}) * 7 + i % {SESSION_EVENTS}) % 15)",
    )
    connection.execute(
        text(
            f"INSERT INTO events ({EVENT_COLUMNS}) "
            f"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n - 1}), "
            f"g(i, t) AS (SELECT i, datetime('{_start()}', '+' || ({offset}) || ' seconds') FROM c) "
            f"SELECT {columns} FROM g"
        )
    )


def generate_postgres(connection: Connection, n: int) -> None:
    offset = f"(i / {SESSION_EVENTS}) * {_spacing(n)} + (i % {SESSION_EVENTS}) * 20"
    columns = _columns("i", f"i / {SESSION_EVENTS}", f"i % {SESSION_EVENTS}").format(
        event_id="'b' || lpad(i::text, 9, '0')",
        ts_text="t",
        day="t::date",
        session=f"'s' || lpad((i / {SESSION_EVENTS})::text, 8, '0')",
        user_text=f"'u' || (((i / {SESSION_EVENTS}) * 7919) % {USERS})::text",
        agent_text=f"'agent' || (((i / {SESSION_EVENTS}) * 7 + i % {SESSION_EVENTS}) % 15)::text",
    )
    connection.execute(
        text(
            f"INSERT INTO events ({EVENT_COLUMNS}) "
            f"SELECT {columns} FROM (SELECT i, TIMESTAMP '{_start()}' + make_interval(secs => {offset}) AS t "
            f"FROM generate_series(0::bigint, {n - 1}) AS i) AS g"
        )
    )


ROLLUP_COLUMNS = "day, service, model, agent, user_id, tier, mode, events, unpriced, cost"
SESSION_COLUMNS = "session_id, user_id, tier, mode, started_at, ended_at, events, unpriced, cost"
TOTAL_COLUMNS = "period, dimension, value, events, unpriced, cost"


def build_rollups(connection: Connection) -> None:
    """rollup_daily, sessions and period_totals from the events, as the ledger would have kept them.

    Sums here stay far below 10^18 nano-dollars, so each cost_high keeps its default of 0 (money.py)."""
    dims = "service, coalesce(model, ''), coalesce(agent, ''), coalesce(user_id, ''), coalesce(tier, ''), " + (
        "coalesce(mode, '')"
    )
    counts = "count(*), count(*) - count(cost), coalesce(sum(cost), 0)"
    connection.execute(
        text(
            f"INSERT INTO rollup_daily ({ROLLUP_COLUMNS}) SELECT day, {dims}, {counts} FROM events GROUP BY day, {dims}"
        )
    )
    connection.execute(
        text(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) SELECT session_id, max(user_id), max(tier), max(mode), "
            f"min(ts), max(ts), {counts} FROM events WHERE session_id IS NOT NULL GROUP BY session_id"
        )
    )
    postgres = connection.dialect.name == "postgresql"
    day = "to_char(day, 'YYYY-MM-DD')" if postgres else "day"
    for dimension in ("", "service", "agent", "user_id", "tier", "mode"):
        value, where, by = (dimension, f"WHERE {dimension} != ''", f", {dimension}") if dimension else ("''", "", "")
        connection.execute(
            text(
                f"INSERT INTO period_totals ({TOTAL_COLUMNS}) SELECT {day}, '{dimension}', {value}, sum(events), "
                f"sum(unpriced), sum(cost) FROM rollup_daily {where} GROUP BY {day}{by}"
            )
        )
    # Months from the days: a few thousand rows, not another pass over the rollups.
    connection.execute(
        text(
            f"INSERT INTO period_totals ({TOTAL_COLUMNS}) SELECT substr(period, 1, 7), dimension, value, "
            "sum(events), sum(unpriced), sum(cost) FROM period_totals WHERE length(period) = 10 "
            "GROUP BY substr(period, 1, 7), dimension, value"
        )
    )


# -- the figures, from the events (the baseline) ---------------------------------------------


def raw_overview(connection: Connection, today: dt.date) -> dict[str, Any]:
    """The overview's figures by GROUP BY over the events: the way a tracker without rollups reads them."""
    first = today.replace(day=1)
    month_start = dt.datetime.combine(first, dt.time())
    window = dt.datetime.combine(min(first, today - dt.timedelta(days=7)), dt.time())
    days = connection.execute(
        text(
            "SELECT day, count(*), count(*) - count(cost), coalesce(sum(cost), 0) FROM events "
            "WHERE ts >= :since GROUP BY day"
        ),
        {"since": window},
    ).all()
    parts = connection.execute(
        text(
            "SELECT service, tier, user_id, agent, count(*), count(*) - count(cost), coalesce(sum(cost), 0) "
            "FROM events WHERE ts >= :since GROUP BY service, tier, user_id, agent"
        ),
        {"since": month_start},
    ).all()
    modes = connection.execute(
        text(
            "SELECT mode, cost, n FROM (SELECT mode, cost, row_number() OVER (PARTITION BY mode ORDER BY cost) AS r, "
            "count(*) OVER (PARTITION BY mode) AS n FROM (SELECT max(mode) AS mode, coalesce(sum(cost), 0) AS cost "
            "FROM events WHERE session_id IS NOT NULL GROUP BY session_id HAVING min(ts) >= :since) AS s) AS ranked "
            "WHERE r = (n + 1) / 2 OR r = (9 * n + 9) / 10 ORDER BY mode, cost"
        ),
        {"since": month_start},
    ).all()
    month_cost = sum(int(row[3]) for row in days if str(row[0]) >= first.isoformat())
    services: dict[str, int] = {}
    for row in parts:
        services[row[0]] = services.get(row[0], 0) + int(row[6])
    return {"month_cost": month_cost, "services": services, "modes": [(m, int(c)) for m, c, _ in modes]}


def raw_alert_check(connection: Connection, today: dt.date) -> tuple[bool, bool, int, int]:
    rows = connection.execute(
        text("SELECT day, coalesce(sum(cost), 0) FROM events WHERE ts >= :since GROUP BY day"),
        {"since": dt.datetime.combine(today.replace(day=1), dt.time())},
    ).all()
    month = sum(int(cost) for _, cost in rows)
    day = sum(int(cost) for d, cost in rows if str(d) == today.isoformat())
    return day > ALERT_DAILY * 10**9, month > ALERT_MONTHLY * 10**9, day, month


# -- the figures, from the rollups (what costledger does) --------------------------------------


def alert_check(connection: Connection, today: dt.date) -> tuple[bool, bool, int, int]:
    from costledger.money import to_nanos
    from costledger.store.queries import month_to_date

    mtd = month_to_date(connection, today)
    day, month = to_nanos(mtd.today_usd), to_nanos(mtd.cost_usd)
    return day > ALERT_DAILY * 10**9, month > ALERT_MONTHLY * 10**9, day, month


def session_part(connection: Connection, today: dt.date) -> None:
    """The part of the overview that reads the sessions table (the month's sessions), timed apart."""
    from costledger.store import session_modes as parts
    from costledger.store.queries import Filters

    month = Filters(since=today.replace(day=1), until=today)
    parts.month_sessions(connection, month)


def _sessions_agree(connection: Connection, today: dt.date) -> None:
    """The month indexes must give what ranking every session of the month in Python gives."""
    from costledger.store import session_modes as parts
    from costledger.store.queries import Filters

    month = Filters(since=today.replace(day=1), until=today)
    if parts._whole_month(connection, month) is None:
        raise SystemExit("bench queries: the overview does not read the month indexes")
    if parts.month_sessions(connection, month) != parts._scanned_sessions(connection, month):
        raise SystemExit("bench queries: the month indexes and the ranking in Python disagree")


def _agree(connection: Connection, today: dt.date) -> None:
    """Refuse to time figures that disagree: the rollups must give the raw numbers exactly."""
    from costledger.money import to_nanos
    from costledger.store.queries import overview

    view, raw = overview(connection, today), raw_overview(connection, today)
    ours = {
        "month_cost": to_nanos(view.month.cost_usd),
        "services": {s.service: to_nanos(s.cost_usd) for s in view.by_service},
        "modes": sorted(
            {(m.mode, to_nanos(p)) for m in view.by_mode for p in (m.p50_usd, m.p90_usd)},
        ),
    }
    raw["modes"] = sorted(set(raw["modes"]))
    if ours != raw:
        raise SystemExit(f"bench queries: rollups and raw events disagree:\n{ours}\n{raw}")
    if alert_check(connection, today) != raw_alert_check(connection, today):
        raise SystemExit("bench queries: the alert check disagrees with the raw events")
    _sessions_agree(connection, today)


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def timed(work: Callable[[], T], repeats: int, warm_up: bool = True) -> float:
    """Median milliseconds of `repeats` runs, after one warm-up run."""
    if warm_up:
        work()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextmanager
def _sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="costledger-bench-") as tmp:
        yield str(Path(tmp) / "queries.db")


@contextmanager
def _pg_store() -> Iterator[str]:
    import psycopg

    schema = f"bench_q_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_SERVER else "?"
    try:
        yield f"{PG_SERVER}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(backend: str, label: str, n: int) -> None:
    from costledger.store import Store
    from costledger.store.queries import overview

    opener = _sqlite_store if backend == "sqlite" else _pg_store
    with opener() as target:
        store = Store(target)
        started = time.perf_counter()
        with store.engine.connect() as connection:
            raw = connection.connection.driver_connection
            if backend == "sqlite":  # bulk loading only: no fsync per commit, sorts in memory
                for pragma in ("synchronous=OFF", "cache_size=-500000", "temp_store=MEMORY"):
                    raw.execute(f"PRAGMA {pragma}")  # type: ignore[union-attr]
            with connection.begin():
                (generate_sqlite if backend == "sqlite" else generate_postgres)(connection, n)
            generated = time.perf_counter() - started
            with connection.begin():
                build_rollups(connection)
            if backend == "postgresql":  # outside a transaction, as VACUUM must be
                vacuum = connection.execution_options(isolation_level="AUTOCOMMIT")
                vacuum.exec_driver_sql("VACUUM (ANALYZE) events, rollup_daily, sessions, period_totals")
            else:  # the timed reads run on the store's own settings
                for pragma in ("synchronous=FULL", "cache_size=-2000", "temp_store=DEFAULT"):
                    raw.execute(f"PRAGMA {pragma}")  # type: ignore[union-attr]
        built = time.perf_counter() - started - generated
        with store.engine.connect() as connection:
            rollups = connection.execute(text("SELECT count(*) FROM rollup_daily")).scalar_one()
            sessions = connection.execute(text("SELECT count(*) FROM sessions")).scalar_one()
            print(
                f"  [{backend} {label}: {n:,} events generated in the database in {generated:.1f} s, "
                f"rollups built by INSERT … SELECT … GROUP BY{' and vacuumed' if backend == 'postgresql' else ''} "
                f"in {built:.1f} s: {rollups:,} rollup rows, "
                f"{sessions:,} sessions]"
            )
            _agree(connection, TODAY)
            raw_repeats = 3 if n <= 1_000_000 else 1
            ours = timed(lambda: overview(connection, TODAY), 9)
            # _agree just ran both sides once: the raw queries are as warm as they get.
            raw = timed(lambda: raw_overview(connection, TODAY), raw_repeats, warm_up=False)
            sessions_part = timed(lambda: session_part(connection, TODAY), 9)
            print(
                f"overview @{label} events ({backend}): {ours:.1f} ms (rollups) vs {raw:,.0f} ms raw GROUP BY "
                f"(baseline), {_ratio(raw / ours)}  [median of 9 vs {raw_repeats}; of which {sessions_part:.1f} ms "
                "sessions by mode and users by tier, from the month indexes]"
            )
            ours = timed(lambda: alert_check(connection, TODAY), 9)
            raw = timed(lambda: raw_alert_check(connection, TODAY), raw_repeats, warm_up=False)
            print(
                f"alert check @{label} events ({backend}): {ours:.1f} ms (rollups) vs {raw:,.0f} ms raw GROUP BY "
                f"(baseline), {_ratio(raw / ours)}  [median of 9 vs {raw_repeats}]"
            )
            sys.stdout.flush()
        store.close()


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return True
    except Exception:
        return False


def main() -> None:
    sizes = [s.strip() for s in os.environ.get("COSTLEDGER_BENCH_SIZES", "10k,1M,10M").split(",") if s.strip()]
    backends = [b.strip() for b in os.environ.get("COSTLEDGER_BENCH_BACKENDS", "sqlite,postgresql").split(",")]
    unknown = [s for s in sizes if s not in SIZES] + [b for b in backends if b not in ("sqlite", "postgresql")]
    if unknown:
        raise SystemExit(f"bench queries: unknown size or backend {unknown[0]!r}; sizes are {', '.join(SIZES)}")
    # Figures on a shared machine move with its load: print it, so a reader can judge them.
    print(f"  [load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs]")
    for backend in backends:
        if backend == "postgresql" and not _pg_reachable():
            print(f"queries postgresql: skipped (no server at {PG_SERVER})")
            continue
        for label in sizes:
            run(backend, label, SIZES[label])


if __name__ == "__main__":
    main()
