"""The query layer, on SQLite and PostgreSQL, against figures worked out by hand.

Costs are given as reported `cost_usd` so every expected number below can be added up
on paper; one event of an unknown service stays unpriced.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from costledger import Ledger
from costledger.store import queries, session_modes
from costledger.store.queries import Filters
from costledger.store.range_sessions import range_sessions
from costledger.store.schema import session_starts
from costledger.store.session_starts import recounted, recounted_nanos

D = Decimal
TODAY = dt.date(2026, 11, 20)


def _at(text: str) -> str:
    return text + "Z"


# session, user, tier, mode, ts, service, agent, cost (None: unpriced), extra fields
EVENTS: list[tuple[Any, ...]] = [
    ("s0", "u2", "free", "quick", "2026-09-15T10:00:00", "anthropic", "a", "3.00", {}),
    ("s1", "u1", "pro", "combined", "2026-10-30T10:00:00", "anthropic", "a", "1.00", {}),
    ("s1", "u1", "pro", "combined", "2026-10-30T10:05:00", "deepgram", None, "0.25", {"audio_seconds": 12.5}),
    ("s1", "u1", "pro", "combined", "2026-10-30T10:10:00", "anthropic", "b", "0.50", {}),
    ("s2", "u2", "free", "quick", "2026-11-02T09:00:00", "anthropic", "a", "0.10", {"tags": {"env": "prod"}}),
    ("s2", "u2", "free", "quick", "2026-11-02T09:30:00", "mystery", None, None, {"model": "x"}),
    ("s3", "u1", "pro", "combined", "2026-11-15T12:00:00", "anthropic", "a", "2.00", {}),
    ("s3", "u1", "pro", "combined", "2026-11-15T12:20:00", "cartesia", None, "0.30", {"tags": {"env": "staging"}}),
    ("s4", "u3", "pro", "combined", "2026-11-20T08:00:00", "anthropic", "b", "0.40", {}),
    ("s4", "u3", "pro", "combined", "2026-11-20T08:01:00", "livekit", None, "0.60", {}),
    (None, None, None, None, "2026-11-19T23:59:59", "anthropic", "c", "0.05", {}),
]


def _event(row: tuple[Any, ...], n: int) -> dict[str, Any]:
    session, user, tier, mode, ts, service, agent, cost, extra = row
    event: dict[str, Any] = {"event_id": f"e{n}", "ts": _at(ts), "service": service, "model": "m"}
    for key, value in (("session_id", session), ("user_id", user), ("tier", tier), ("mode", mode), ("agent", agent)):
        if value is not None:
            event[key] = value
    if cost is not None:
        event["cost_usd"] = cost
    usage = {"audio_seconds": extra["audio_seconds"]} if "audio_seconds" in extra else {"requests": 1}
    event["usage"] = usage
    event.update({k: v for k, v in extra.items() if k != "audio_seconds"})
    return event


@pytest.fixture
def target(store_url: str) -> str:
    """Each test runs on SQLite and PostgreSQL (store_url in tests/store/conftest.py)."""
    return store_url


@pytest.fixture
def ledger(target: str) -> Iterator[Ledger]:
    with Ledger(target) as opened:
        recorded = opened.record_many([_event(row, n) for n, row in enumerate(EVENTS)])
        assert (recorded.accepted, recorded.unpriced) == (len(EVENTS), 1)
        yield opened


def _read(ledger: Ledger, work: Any) -> Any:
    with ledger.store.engine.connect() as connection:
        return work(connection)


def _costs(totals: list[queries.Total], key: str) -> dict[Any, Decimal]:
    return {t.group[key]: t.cost_usd for t in totals}


# -- totals -----------------------------------------------------------------------------------


def test_totals_by_day_week_and_month(ledger: Ledger) -> None:
    by_day = ledger.report("day")
    assert [(t.group["day"], t.cost_usd, t.events, t.unpriced) for t in by_day] == [
        ("2026-09-15", D("3.00"), 1, 0),
        ("2026-10-30", D("1.75"), 3, 0),
        ("2026-11-02", D("0.10"), 2, 1),
        ("2026-11-15", D("2.30"), 2, 0),
        ("2026-11-19", D("0.05"), 1, 0),
        ("2026-11-20", D("1.00"), 2, 0),
    ]
    # Weeks are named by their Monday: Tue 09-15 → 09-14, Sun 11-15 → 11-09, Thu/Fri 11-19/20 → 11-16.
    assert [(t.group["week"], t.cost_usd) for t in ledger.report("week")] == [
        ("2026-09-14", D("3.00")),
        ("2026-10-26", D("1.75")),
        ("2026-11-02", D("0.10")),
        ("2026-11-09", D("2.30")),
        ("2026-11-16", D("1.05")),
    ]
    assert [(t.group["month"], t.cost_usd, t.events) for t in ledger.report("month")] == [
        ("2026-09", D("3.00"), 1),
        ("2026-10", D("1.75"), 3),
        ("2026-11", D("3.45"), 7),
    ]
    assert ledger.total_usd() == D("8.20")


def test_totals_filtered_by_dates_dimensions_and_tags(ledger: Ledger) -> None:
    november = ledger.report("user", since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 19))
    assert _costs(november, "user") == {"u1": D("2.30"), "u2": D("0.10"), None: D("0.05")}
    assert _costs(ledger.report("agent", tier="pro"), "agent") == {"a": D("3.00"), "b": D("0.90"), None: D("1.15")}
    prod = ledger.report("service", tags={"env": "prod"})
    assert [(t.group["service"], t.cost_usd, t.events) for t in prod] == [("anthropic", D("0.10"), 1)]
    staging = ledger.report(["user", "month"], tags={"env": "staging"})
    assert [(t.group, t.cost_usd) for t in staging] == [({"user": "u1", "month": "2026-11"}, D("0.30"))]
    assert ledger.report("service", tags={"env": "nowhere"}) == []


# -- daily trend and top ----------------------------------------------------------------------


def test_daily_trend_is_zero_filled_oldest_first_and_ends_today(ledger: Ledger) -> None:
    trend = ledger.daily_trend(7, today=TODAY)
    assert [t.group["day"] for t in trend] == [f"2026-11-{d}" for d in range(14, 21)]
    assert [t.cost_usd for t in trend] == [D(0), D("2.30"), D(0), D(0), D(0), D("0.05"), D("1.00")]
    assert [t.events for t in trend] == [0, 2, 0, 0, 0, 1, 2]
    only_u1 = ledger.daily_trend(30, today=TODAY, user_id="u1")
    assert len(only_u1) == 30 and only_u1[0].group["day"] == "2026-10-22"
    assert {t.group["day"]: t.cost_usd for t in only_u1 if t.events} == {
        "2026-10-30": D("1.75"),
        "2026-11-15": D("2.30"),
    }
    # Two dimensions at once are only in the rollups: the same figures by the other path.
    assert ledger.daily_trend(30, today=TODAY, user_id="u1", tier="pro") == only_u1
    assert ledger.daily_trend(7, today=TODAY, tags={"env": "staging"})[1].cost_usd == D("0.30")
    with pytest.raises(ValueError):
        ledger.daily_trend(0)


def test_top_users_and_agents_by_cost(ledger: Ledger) -> None:
    users = ledger.top("user", 2)
    assert [(t.group["user"], t.cost_usd) for t in users] == [("u1", D("4.05")), ("u2", D("3.10"))]
    agents = ledger.top("agent", since=dt.date(2026, 11, 1))
    assert [(t.group["agent"], t.cost_usd) for t in agents] == [("a", D("2.10")), ("b", D("0.40")), ("c", D("0.05"))]
    assert [t.group["model"] for t in ledger.top("model")] == ["m", "x"]
    with pytest.raises(ValueError, match="trend"):
        ledger.top("day")


# -- month to date, forecast, overview ----------------------------------------------------------


def test_month_to_date_and_run_rate_forecast(ledger: Ledger) -> None:
    mtd = ledger.month_to_date(TODAY)
    assert (mtd.month, mtd.cost_usd, mtd.events, mtd.unpriced) == ("2026-11", D("3.45"), 7, 1)
    assert (mtd.days_elapsed, mtd.days_in_month, mtd.today_usd, mtd.today_events) == (20, 30, D("1.00"), 2)
    # The seven complete days 11-13..11-19 cost 2.35: 0.335714286 a day.
    assert mtd.run_rate_usd == D("0.335714286")
    # Through yesterday 2.45, today already above the rate 1.00, ten days left at the rate.
    assert mtd.forecast_usd == D("2.45") + D("1.00") + 10 * D("0.335714286")
    assert ledger.month_to_date(TODAY, user_id="u1").cost_usd == D("2.30")
    october = ledger.month_to_date(dt.date(2026, 10, 31))
    assert (october.cost_usd, october.days_in_month, october.today_usd) == (D("1.75"), 31, D(0))
    # Window 10-24..10-30 holds 1.75; today (nothing yet) counts at the rate.
    assert october.run_rate_usd == D("0.25") and october.forecast_usd == D("1.75") + D("0.25")


def test_forecast_of_a_young_ledger_uses_the_days_it_has(target: str) -> None:
    with Ledger(target) as ledger:
        ledger.record_many(
            [
                {"ts": "2026-11-18T10:00:00Z", "service": "x", "cost_usd": "2", "usage": {"requests": 1}},
                {"ts": "2026-11-19T10:00:00Z", "service": "x", "cost_usd": "4", "usage": {"requests": 1}},
                {"ts": "2026-11-20T10:00:00Z", "service": "x", "cost_usd": "1", "usage": {"requests": 1}},
            ]
        )
        mtd = ledger.month_to_date(TODAY)
        assert mtd.run_rate_usd == D("3")  # two complete days, not seven
        assert mtd.forecast_usd == D("6") + D("3") + 10 * D("3")
        first_day = ledger.month_to_date(dt.date(2026, 11, 18))
        # Its first day is its rate; the month's days before the ledger existed cost nothing.
        assert first_day.run_rate_usd == D("2") and first_day.forecast_usd == D("2") + 12 * D("2")


def test_overview_of_the_month(ledger: Ledger) -> None:
    view = ledger.overview(TODAY)
    assert view.today == TODAY and view.month.cost_usd == D("3.45") and view.unpriced == 1
    assert [(s.service, s.events, s.cost_usd, s.share) for s in view.by_service] == [
        ("anthropic", 4, D("2.55"), D("0.7391")),
        ("livekit", 1, D("0.60"), D("0.1739")),
        ("cartesia", 1, D("0.30"), D("0.0870")),
        ("mystery", 1, D(0), D(0)),
    ]
    assert [(t.tier, t.users, t.cost_usd, t.per_user_usd) for t in view.by_tier] == [
        ("free", 1, D("0.10"), D("0.10")),
        ("pro", 2, D("3.30"), D("1.65")),
    ]
    assert [(m.mode, m.sessions, m.cost_usd, m.avg_usd, m.p50_usd, m.p90_usd) for m in view.by_mode] == [
        ("combined", 2, D("3.30"), D("1.65"), D("1.00"), D("2.30")),
        ("quick", 1, D("0.10"), D("0.10"), D("0.10"), D("0.10")),
    ]
    assert view.sessions == 3 and view.avg_session_usd == D("1.133333333")
    assert [(t.group["user"], t.cost_usd) for t in view.top_users] == [
        ("u1", D("2.30")),
        ("u3", D("1.00")),
        ("u2", D("0.10")),
    ]
    assert [(t.group["agent"], t.cost_usd) for t in view.top_agents] == [
        ("a", D("2.10")),
        ("b", D("0.40")),
        ("c", D("0.05")),
    ]
    as_json = view.as_dict()
    assert as_json["month"]["forecast_usd"] == "6.80714286" and as_json["by_service"][0]["share"] == "0.7391"
    only_pro = ledger.overview(TODAY, tier="pro")
    assert only_pro.month.cost_usd == D("3.30") and [m.mode for m in only_pro.by_mode] == ["combined"]


def test_overview_of_a_past_day_leaves_out_the_days_after_it(ledger: Ledger) -> None:
    view = ledger.overview(dt.date(2026, 11, 16))
    assert view.month.cost_usd == D("2.40") and view.month.today_usd == 0
    assert [(s.service, s.cost_usd) for s in view.by_service] == [
        ("anthropic", D("2.10")),
        ("cartesia", D("0.30")),
        ("mystery", D(0)),
    ]
    assert [(t.tier, t.users, t.cost_usd) for t in view.by_tier] == [("free", 1, D("0.10")), ("pro", 1, D("2.30"))]
    assert [t.group["user"] for t in view.top_users] == ["u1", "u2"] and view.sessions == 2


def test_session_cost_percentiles_are_nearest_rank(target: str) -> None:
    with Ledger(target) as ledger:
        ledger.record_many(
            {"ts": f"2026-11-{n:02d}T10:00:00Z", "service": "x", "cost_usd": str(n), "session_id": f"s{n}",
             "mode": "solo", "usage": {"requests": 1}}
            for n in range(1, 11)
        )  # fmt: skip
        (solo,) = ledger.overview(TODAY).by_mode
        assert (solo.sessions, solo.avg_usd, solo.p50_usd, solo.p90_usd) == (10, D("5.5"), D("5"), D("9"))


def test_overview_of_an_empty_ledger(target: str) -> None:
    with Ledger(target) as ledger:
        view = ledger.overview(TODAY)
        assert view.month.cost_usd == 0 and view.month.forecast_usd == 0 and view.sessions == 0
        assert view.avg_session_usd is None and not (view.by_service or view.by_mode or view.by_tier)


# -- cost per session by mode and users per tier: the month indexes against the plain pass -------


def _session_mix(ledger: Ledger) -> None:
    """Sessions of every shape around November 2026: modes of 1 to 10 sessions (every nearest rank,
    counted from either end), tied costs, modes, tiers and users of None, unpriced and free
    sessions, sessions without events, and sessions that begin in one month and end in the next.
    """
    rng = random.Random(4)
    rows: list[dict[str, Any]] = []

    def session(sid: str, start: dt.datetime, costs: list[str | None], **fields: str | None) -> None:
        for n, cost in enumerate(costs):
            ts = (start + dt.timedelta(minutes=n)).isoformat() + "Z"
            row: dict[str, Any] = {"event_id": f"{sid}.{n}", "ts": ts, "session_id": sid, "usage": {"requests": 1}}
            row.update({k: v for k, v in fields.items() if v is not None})
            if cost is None:
                row.update(service="mystery", model="x")  # no price: the session counts, at 0 for it
            else:
                row.update(service="anthropic", model="m", cost_usd=cost)
            rows.append(row)

    for n in range(1, 11):
        for k in range(n):
            cost = str(D(k * 7 % n + 1) / 8)
            session(f"r{n}-{k}", dt.datetime(2026, 11, 1 + k, 9), [cost], mode=f"ranks{n}", tier="pro", user_id=f"u{k}")
    ties = ["0.10", "0.25", "0.25", "1.00", "0.00"]
    for k in range(160):
        start = dt.datetime(2026, 10, 20, 6) + dt.timedelta(hours=rng.randrange(60 * 24))
        costs = [
            rng.choice([*ties, None]) if rng.random() < 0.1 else rng.choice(ties) for _ in range(rng.randint(1, 3))
        ]
        user = rng.choice([None, *(f"u{i}" for i in range(9))])
        mode, tier = rng.choice(["voice", "voice", "text", None]), rng.choice(["free", "pro", None])
        session(f"x{k}", start, costs, mode=mode, tier=tier, user_id=user)
    session("solo", dt.datetime(2026, 11, 18, 12), ["4.20"], mode="solo", user_id="only-user", tier="only-tier")
    session("late", dt.datetime(2026, 11, 30, 23, 59), ["0.30", "0.40"], mode="voice", tier="free", user_id="u1")
    session("early", dt.datetime(2026, 11, 1, 0, 30), ["2.00"], mode="early")
    recorded = ledger.record_many(rows)
    assert recorded.accepted == len(rows)
    # Sessions opened without an event (their users and modes must count nowhere), and one that
    # opened in October before its November events.
    for k, day in enumerate((dt.datetime(2026, 11, 2), dt.datetime(2026, 11, 25), dt.datetime(2026, 10, 9))):
        ledger.store.touch_session(f"empty{k}", day, {"mode": "ghost-mode", "tier": "ghost-tier", "user_id": "ghost"})
    ledger.store.touch_session("early", dt.datetime(2026, 10, 31, 23), {})


def _ranked(connection: Any, filters: Filters) -> Any:
    """What month_sessions must give: every selected session ranked in Python, its users counted."""
    held = range_sessions(connection, filters)
    return session_modes._ranked(held), session_modes._users(held)


def _scanned(connection: Any, first: dt.date, until: dt.date) -> Any:
    return _ranked(connection, Filters(since=first, until=until))


def test_month_indexes_give_exactly_what_the_plain_pass_gives(target: str) -> None:
    with Ledger(target) as ledger:
        _session_mix(ledger)
        with ledger.store.engine.connect() as connection:
            for first in (dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)):
                last = session_modes._next_month(first) - dt.timedelta(days=1)
                expected = _scanned(connection, first, last)
                assert session_modes._indexed_month(connection, Filters(since=first, until=last), first) == expected
                # The users per tier at every budget: the loose scans, running out of seeks at the
                # tiers or at any tier's users (None), or the plain pass.
                outcomes = [session_modes._seek_users(connection, first, budget) for budget in range(-1, 60)]
                assert None in outcomes and all(found in (None, expected[1]) for found in outcomes)
                assert outcomes[-1] == expected[1]
                for budget in (0, session_modes._MIN_SEEKS - 1, session_modes._MIN_SEEKS, 10_000):
                    assert session_modes._users_by_tier(connection, first, budget) == expected[1]
            october = _scanned(connection, dt.date(2026, 10, 1), dt.date(2026, 10, 31))[0]
            by_mode, users = _scanned(connection, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
            assert session_modes._seek_users(connection, dt.date(2026, 11, 1), 10_000) == users
            assert session_modes._seek_users(connection, dt.date(2026, 11, 1), 3) is None
    modes = {m.mode: m for m in by_mode}
    assert [modes[f"ranks{n}"].sessions for n in range(1, 11)] == list(range(1, 11))
    assert None in modes and modes["solo"].sessions == 1 and "ghost-mode" not in modes and "early" not in modes
    assert "early" in {m.mode for m in october}
    assert modes["voice"].p50_usd in (D("0.10"), D("0.25"), D("0.50"), D("1.00"))  # ties among the sessions
    assert users["only-tier"] == 1 and None in users and "ghost-tier" not in users
    # n = 10: ranks 5 and 9 of 1/8 … 10/8, every cost distinct.
    assert (modes["ranks10"].p50_usd, modes["ranks10"].p90_usd) == (D("0.625"), D("1.125"))


def test_the_overview_reads_the_month_indexes_only_where_they_answer_the_same(target: str) -> None:
    with Ledger(target) as ledger:
        _session_mix(ledger)
        with ledger.store.engine.connect() as connection:
            november = dt.date(2026, 11, 1)
            days = [november + dt.timedelta(days=n) for n in range(30)] + [dt.date(2026, 10, 31), dt.date(2026, 12, 1)]
            for day in days:
                filters = Filters(since=day.replace(day=1), until=day)
                assert session_modes.month_sessions(connection, filters) == _ranked(connection, filters)
            whole = session_modes._whole_month
            # The last day has the "late" session; the day before, that session starts after it.
            assert whole(connection, Filters(since=november, until=dt.date(2026, 11, 30))) == november
            assert whole(connection, Filters(since=november, until=dt.date(2026, 11, 29))) is None
            # Only a session without events after the 25th (empty1): the 25th still reads the indexes.
            assert whole(connection, Filters(since=dt.date(2026, 12, 1), until=dt.date(2026, 12, 31))) is not None
            for other in (
                Filters(since=november, until=dt.date(2026, 12, 1)),
                Filters(since=dt.date(2026, 11, 2), until=dt.date(2026, 11, 30)),
                Filters(since=november, until=dt.date(2026, 11, 30), dims={"tier": "pro"}),
                Filters(since=november, until=dt.date(2026, 11, 30), tags={"env": "prod"}),
                Filters(since=november, until=dt.date(2026, 11, 30), min_cost=D("0.2")),
                Filters(since=november, until=dt.date(2026, 11, 30), max_cost=D("0.2")),
            ):
                assert whole(connection, other) is None
                assert session_modes.month_sessions(connection, other) == _ranked(connection, other)
            by_mode, users = _scanned(connection, november, dt.date(2026, 11, 30))
        view = ledger.overview(dt.date(2026, 11, 30))
        assert view.by_mode == by_mode
        assert {t.tier: t.users for t in view.by_tier} == {tier: n for tier, n in users.items() if tier is not None}


def _plan(connection: Any, statement: str, parameters: Any) -> str:
    """The plan of one captured statement; on PostgreSQL, its generic plan: the one a prepared
    statement (psycopg prepares a query it has run five times) ends up with, planned without
    the parameters' values, so a condition only a bound value states cannot pick an index."""
    if connection.dialect.name == "sqlite":
        return "\n".join(
            str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    names: dict[str, str] = {}
    numbered = re.sub(r"%\((\w+)\)s", lambda m: names.setdefault(m.group(1), f"${len(names) + 1}"), statement)
    connection.exec_driver_sql(f"PREPARE probe AS {numbered}")
    from psycopg.sql import Literal

    raw = connection.connection.driver_connection
    arguments = ", ".join(Literal(parameters[name]).as_string(raw) for name in names)
    rows = connection.exec_driver_sql(f"EXPLAIN EXECUTE probe({arguments})" if names else "EXPLAIN EXECUTE probe")
    plan = "\n".join(str(row[0]) for row in rows)
    connection.exec_driver_sql("DEALLOCATE probe")
    return plan


def test_month_index_reads_use_the_month_indexes(target: str) -> None:
    """Every statement of the indexed path is planned on an index or a kept table's key: the month index
    for the users per tier (SQLite matches an index on an expression only to the very same expression),
    session_starts and session_bands by day and the sessions by mode and cost for the modes' percentiles
    (on PostgreSQL those run on a connection of their own; it is told not to scan the table)."""
    with Ledger(target) as ledger:
        _session_mix(ledger)
        seen: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            if statement.lstrip().startswith(("SELECT", "WITH")):  # not the BEGIN of the transaction
                seen.append((statement, parameters))

        november = dt.date(2026, 11, 1)
        with ledger.store.engine.connect() as connection:
            event.listen(connection, "before_cursor_execute", capture)
            session_modes._indexed_month(connection, Filters(since=november, until=dt.date(2026, 11, 30)), november)
            session_modes._users_by_tier(connection, november, 10_000)  # the loose scans
            session_modes._users_by_tier(connection, november, 0)  # the plain pass
            event.remove(connection, "before_cursor_execute", capture)
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")
                connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            assert len(seen) >= 6
            for statement, parameters in seen:
                plan = _plan(connection, statement, parameters)
                kept = ("ix_sessions_month_", "ix_sessions_mode_cost", "session_starts", "session_bands")
                assert any(name in plan for name in kept), (statement, plan)
                assert "SCAN session" not in plan and "Seq Scan" not in plan, plan
            if connection.dialect.name == "sqlite":  # the percentiles' reads, on this connection there
                assert any("ix_sessions_mode_cost" in _plan(connection, *one) for one in seen)


# -- sessions ---------------------------------------------------------------------------------


def _ids(page: tuple[list[queries.SessionSummary], int]) -> tuple[list[str], int]:
    return [s.session_id for s in page[0]], page[1]


def test_sessions_sorted_every_way(ledger: Ledger) -> None:
    assert _ids(ledger.sessions()) == (["s4", "s3", "s2", "s1", "s0"], 5)
    assert _ids(ledger.sessions(sort="cost")) == (["s0", "s3", "s1", "s4", "s2"], 5)
    assert _ids(ledger.sessions(sort="ended_at", descending=False)) == (["s0", "s1", "s2", "s3", "s4"], 5)
    # s0 lasted 0 s, s4 60 s, s1 600 s, s3 1200 s, s2 1800 s.
    assert _ids(ledger.sessions(sort="duration", descending=False)) == (["s0", "s4", "s1", "s3", "s2"], 5)
    # Ties (two events each) fall back to the session id, in the same direction.
    assert _ids(ledger.sessions(sort="events")) == (["s1", "s4", "s3", "s2", "s0"], 5)
    with pytest.raises(ValueError, match="sort"):
        ledger.sessions(sort="user")


def test_sessions_paging_counts_all_matches(ledger: Ledger) -> None:
    assert _ids(ledger.sessions(sort="cost", limit=2, offset=2)) == (["s1", "s4"], 5)
    assert _ids(ledger.sessions(sort="cost", limit=2, offset=4)) == (["s2"], 5)
    assert _ids(ledger.sessions(limit=2, offset=10)) == ([], 5)
    assert _ids(ledger.sessions(tier="pro", limit=1)) == (["s4"], 3)


def test_sessions_filters(ledger: Ledger) -> None:
    assert _ids(ledger.sessions(user_id="u1")) == (["s3", "s1"], 2)
    assert _ids(ledger.sessions(mode="quick")) == (["s2", "s0"], 2)
    assert _ids(ledger.sessions(since=dt.date(2026, 11, 1))) == (["s4", "s3", "s2"], 3)
    assert _ids(ledger.sessions(until=dt.date(2026, 10, 30))) == (["s1", "s0"], 2)
    assert _ids(ledger.sessions(min_cost=D("1.00"), max_cost=D("2.00"))) == (["s4", "s1"], 2)
    assert _ids(ledger.sessions(agent="b")) == (["s4", "s1"], 2)
    assert _ids(ledger.sessions(service="deepgram")) == (["s1"], 1)
    assert _ids(ledger.sessions(model="x")) == (["s2"], 1)
    assert _ids(ledger.sessions(tags={"env": "staging"})) == (["s3"], 1)
    assert _ids(ledger.sessions(user_id="nobody")) == ([], 0)


def test_listed_sessions_carry_their_breakdown(ledger: Ledger) -> None:
    (s1,), _ = ledger.sessions(user_id="u1", sort="cost", descending=False, limit=1)
    assert (s1.session_id, s1.cost_usd, s1.events, s1.unpriced, s1.duration_seconds) == ("s1", D("1.75"), 3, 0, 600)
    assert s1.by_service == {"anthropic": D("1.50"), "deepgram": D("0.25")}
    assert s1.by_agent == {"a": D("1.00"), "b": D("0.50"), "": D("0.25")}
    assert (s1.user_id, s1.tier, s1.mode) == ("u1", "pro", "combined")
    assert s1.started_at == dt.datetime(2026, 10, 30, 10, tzinfo=dt.UTC)


def test_session_events_in_time_order_with_exact_costs(ledger: Ledger) -> None:
    s1 = ledger.session_events("s1")
    assert [e["event_id"] for e in s1] == ["e1", "e2", "e3"]
    assert [e["cost_usd"] for e in s1] == [D("1.00"), D("0.25"), D("0.50")]
    assert s1[1]["usage"] == {"audio_seconds": D("12.5")} and s1[0]["usage"] == {"requests": 1}
    assert s1[0]["ts"] == dt.datetime(2026, 10, 30, 10, tzinfo=dt.UTC) and s1[0]["cost_source"] == "reported"
    s2 = ledger.session_events("s2")
    assert s2[0]["tags"] == {"env": "prod"}
    assert s2[1]["cost_usd"] is None and "mystery" in s2[1]["unpriced_reason"]
    assert ledger.session_events("nope") == []


def test_query_functions_take_a_connection(ledger: Ledger) -> None:
    page, count = _read(ledger, lambda c: queries.list_sessions(c, Filters(min_cost=D("2")), "cost", False))
    assert [s.session_id for s in page] == ["s3", "s0"] and count == 2
    assert _read(ledger, lambda c: queries.top(c, "tier", 1))[0].group == {"tier": "pro"}


def test_overview_agrees_with_group_by_over_the_events(target: str) -> None:
    """The benchmark's workload (3,000 events over 90 days): every overview figure equals raw SQL."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_queries", ROOT / "bench" / "queries.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with Ledger(target) as ledger:
        with ledger.store.engine.begin() as connection:
            generator = bench.generate_postgres if ledger.store.dialect == "postgresql" else bench.generate_sqlite
            generator(connection, 3000)
            bench.build_rollups(connection)
        with ledger.store.engine.connect() as connection:
            bench._agree(connection, bench.TODAY)  # raises SystemExit on any difference
            # The sessions started per day, tier and mode, rebuilt from the bulk-made sessions.
            kept = select(session_starts).where(session_starts.c.sessions != 0).order_by(*session_starts.primary_key)
            found = [tuple(map(str, (*row[:4], row[4] * 10**18 + row[5]))) for row in connection.execute(kept)]
            recount = connection.execute(recounted(connection.dialect.name))
            assert found == [tuple(map(str, recounted_nanos(row))) for row in recount]
            assert len(found) > 30  # 90 days of sessions
            view = queries.overview(connection, bench.TODAY)
        assert view.month.events > 0 and len(view.by_mode) == 3 and view.sessions > 0
        assert ledger.total_usd() == sum((t.cost_usd for t in ledger.report("day")), start=D(0)) > 0


@pytest.mark.parametrize("since", [None, dt.date(2026, 11, 1)])
def test_one_users_sessions_are_found_by_the_user_index_on_sqlite(tmp_path: Any, since: dt.date | None) -> None:
    """A user's sessions (all time, or from a day on) and their count are read among that user's rows of
    ix_sessions_user, not by a scan of every session or of the range's (migration 0011)."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "FROM sessions" in statement and "EXPLAIN" not in statement:
            statements.append((statement, parameters))

    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_many([{"event_id": f"e{i}", "ts": f"2026-11-{1 + i % 20:02d}T10:00:00Z", "service": "deepgram",
                             "model": "nova-3", "usage": {"audio_seconds": 5}, "session_id": f"s{i}",
                             "user_id": f"u{i % 7}"} for i in range(200)])  # fmt: skip
        event.listen(ledger.store.engine, "before_cursor_execute", seen)
        try:
            with ledger.store.engine.connect() as connection:
                page, count = queries.list_sessions(connection, Filters(since=since, dims={"user_id": "u3"}), limit=5)
                assert count == len(range(3, 200, 7)) and len(page) == 5
                plans = [" ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                         for sql, params in statements]  # fmt: skip
        finally:
            event.remove(ledger.store.engine, "before_cursor_execute", seen)
    assert len(plans) == 2 and all("ix_sessions_user (user_id=?" in plan for plan in plans), plans


@pytest.mark.parametrize("since", [None, dt.date(2026, 11, 10)], ids=["all time", "a range"])
def test_sessions_with_unpriced_events_are_found_by_their_index(target: str, since: dt.date | None) -> None:
    """The sessions with unpriced events (all time, or from a day on) and their count are read from
    ix_sessions_unpriced, not by a scan of every session or of the range's (migration 0014); on
    PostgreSQL in the generic plan a prepared statement ends up with, the table's scan turned off."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "FROM sessions" in statement and "EXPLAIN" not in statement:
            statements.append((statement, parameters))

    with Ledger(target) as ledger:
        # Every fifth session has an event of a model no catalog knows.
        ledger.record_many([{"event_id": f"e{i}", "ts": f"2026-11-{1 + i % 20:02d}T10:00:00Z", "service": "deepgram",
                             "model": "nova-3" if i % 5 else "no-such-model", "usage": {"audio_seconds": 5},
                             "session_id": f"s{i}"} for i in range(200)])  # fmt: skip
        event.listen(ledger.store.engine, "before_cursor_execute", seen)
        try:
            with ledger.store.engine.connect() as connection:
                page, count = queries.list_sessions(connection, Filters(since=since, unpriced=True), limit=5)
                expected = [i for i in range(0, 200, 5) if since is None or 1 + i % 20 >= since.day]
                assert count == len(expected) and len(page) == 5 and all(s.unpriced == 1 for s in page)
                event.remove(ledger.store.engine, "before_cursor_execute", seen)
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET enable_seqscan = off")
                    connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
                plans = [_plan(connection, sql, params) for sql, params in statements]
        finally:
            if event.contains(ledger.store.engine, "before_cursor_execute", seen):
                event.remove(ledger.store.engine, "before_cursor_execute", seen)
    assert len(plans) == 2 and all("ix_sessions_unpriced" in plan for plan in plans), plans
