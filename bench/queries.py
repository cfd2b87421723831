"""The overview and the alert check in process, at 10k / 1M / 10M events, against GROUP BY over the events.

On each realistic ledger of bench/_ledgers.py (built through record_many, cached; see there), in
the same run:
- overview: `costledger.store.queries.overview()` (month to date, forecast, service shares, cost
  per user by tier, top users and agents; cost per session by mode with p50/p90 and users per
  tier), against the same figures computed by GROUP BY over the events table;
- alert check: today's total and the month to date (`month_to_date()`) compared with two
  thresholds, against a GROUP BY day over the month's events.
Both sides must agree to the nano-dollar before a ratio is printed, and the overview's sessions
part read from the month indexes must equal the same part ranked in Python from every session
of the month. Each figure also says how it grew from the first size's. Every page and API read
over HTTP is bench/dashboard.py.

The bulk generator below (events made inside the database, aggregates by INSERT … SELECT …
GROUP BY) is no longer what the figures run on: its users, agents and models repeat (0.048
rollup rows per event at 10M, against ~0.6 for a realistic workload), so it could not show a read
that grows with the rollups. tests/store/test_queries.py still uses it as a small fixed workload.

Sizes: COSTLEDGER_BENCH_SIZES=10k,1M (default 10k,1M,10M). SQLite only: a realistic PostgreSQL
ledger of 10M events through record_many would take another half hour to build.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from costledger.store.session_bands import rebuild_bands
from costledger.store.session_starts import rebuild_starts

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
    """rollup_daily, sessions, session_starts and period_totals from the events, as the ledger would have kept them.

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
    rebuild_starts(connection)  # the sessions started per day, tier and mode, from the sessions just made
    rebuild_bands(connection)  # and per day, mode and cost band
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


def _growth(label: str, ours: float, first: dict[str, float], key: str) -> str:
    """The figure against the first size's, once there is one (the 10k one, by default)."""
    if key not in first:
        first[key] = ours
        return ""
    return f"; {_ratio(ours / first[key])} of the first size's {first[key]:.1f} ms"


def run(label: str, n: int, first: dict[str, float]) -> None:
    from bench import _ledgers
    from costledger.store import Store
    from costledger.store.queries import overview

    built = _ledgers.ledger(label, n)
    print("  " + built.describe(), flush=True)
    today = _ledgers.now().date()
    store = Store(str(built.path))
    with store.engine.connect() as connection:
        _agree(connection, today)
        raw_repeats = 3 if n <= 1_000_000 else 1
        ours = timed(lambda: overview(connection, today), 9)
        # _agree just ran both sides once: the raw queries are as warm as they get.
        raw = timed(lambda: raw_overview(connection, today), raw_repeats, warm_up=False)
        sessions_part = timed(lambda: session_part(connection, today), 9)
        print(
            f"overview @{label} events: {ours:.1f} ms (costledger.store.queries.overview) vs {raw:,.0f} ms raw "
            f"GROUP BY over the events (baseline), {_ratio(raw / ours)}  [median of 9 vs {raw_repeats}; of which "
            f"{sessions_part:.1f} ms sessions by mode and users by tier{_growth(label, ours, first, 'overview')}]"
        )
        ours = timed(lambda: alert_check(connection, today), 9)
        raw = timed(lambda: raw_alert_check(connection, today), raw_repeats, warm_up=False)
        print(
            f"alert check @{label} events: {ours:.1f} ms (month_to_date) vs {raw:,.0f} ms raw GROUP BY over the "
            f"events (baseline), {_ratio(raw / ours)}  [median of 9 vs {raw_repeats}"
            f"{_growth(label, ours, first, 'alerts')}]",
            flush=True,
        )
    store.close()


def main() -> None:
    from bench import _ledgers

    _ledgers.pin_clock()
    # Figures on a shared machine move with its load: print it, so a reader can judge them.
    print(f"  [load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs]")
    first: dict[str, float] = {}
    for label, n in _ledgers.sizes():
        run(label, n, first)


if __name__ == "__main__":
    main()
