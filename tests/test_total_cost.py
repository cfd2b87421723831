"""The whole cost of a range (costledger.total_cost) on a real SQLite file and a real PostgreSQL
schema (whose day and text expressions differ), against figures worked out by hand from the
prices in the test's own costledger.toml (so no catalog update moves them).

The ledger: a fixed cost of $30 a month, a session type "expert" with $60 extra per session, a
price of $0.006 per audio minute for acme:talk, and four sessions on 2026-11-10/11.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costledger import Ledger, clock
from costledger.config import FixedCost
from costledger.margins.arithmetic import allocate
from costledger.store import Filters
from costledger.store.range_sessions import DAY, range_sessions, read_already
from costledger.store.search import find_ids
from costledger.store.session_counts import session_counts
from costledger.store.session_modes import ModeCost, session_costs_by_mode
from costledger.store.session_totals import list_whole, stream_sessions
from costledger.total_cost import (
    CostParts,
    fixed_by_day,
    month_forecast,
    part_of,
    previous_period,
    sessions_cost,
    sessions_side,
    whole_cost,
    whole_sort_nanos,
    with_metered,
)

CONFIG = """
[[prices]]
service = "acme"
model = "talk"
since = 2026-01-01
audio_per_minute = "0.006"
source = "test"

[[fixed_costs]]
name = "server"
monthly_usd = "30"
since = 2026-01-01

[[session_types]]
mode = "expert"
estimate_usd = ["50", "70"]
extra_cost_usd = "60"

[[session_types]]
mode = "chat"
estimate_usd = ["0.10", "2"]
"""
NOV_10, NOV_11, NOV_12 = dt.date(2026, 11, 10), dt.date(2026, 11, 11), dt.date(2026, 11, 12)
RANGE = Filters(since=NOV_10, until=NOV_12)


def at(day: dt.date, hour: int) -> str:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC).isoformat()


@pytest.fixture(params=["sqlite", "postgresql"])
def small(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The small ledger on a SQLite file, then in a PostgreSQL schema of its own."""
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    target = tmp_path / "ledger.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    ledger = Ledger(target, config=config)
    with clock.use(dt.datetime(2026, 11, 12, 12, tzinfo=dt.UTC)):
        ledger.record_many([
            # 600 s = 10 min × $0.006 = $0.06
            {"event_id": "e1", "ts": at(NOV_10, 9), "service": "acme", "model": "talk",
             "usage": {"audio_seconds": 600}, "session_id": "s1", "mode": "expert", "tier": "pro", "user_id": "a"},
            # 1,200 s = 20 min × $0.006 = $0.12
            {"event_id": "e2", "ts": at(NOV_10, 10), "service": "acme", "model": "talk",
             "usage": {"audio_seconds": 1200}, "session_id": "s2", "mode": "chat", "tier": "free", "user_id": "b"},
            # reported by the caller: $1.50
            {"event_id": "e3", "ts": at(NOV_11, 9), "service": "acme", "model": "x", "cost_usd": "1.50",
             "session_id": "s3", "mode": "chat", "tier": "pro", "user_id": "a"},
            # no price known: unpriced, never $0
            {"event_id": "e4", "ts": at(NOV_11, 10), "service": "acme", "model": "mystery",
             "usage": {"audio_seconds": 60}, "session_id": "s4", "mode": "chat", "tier": "free", "user_id": "c"},
        ])  # fmt: skip
    yield ledger
    ledger.close()


def test_a_months_fixed_cost_is_split_over_its_days_exactly() -> None:
    costs = [FixedCost("server", Decimal("30"), dt.date(2026, 1, 1))]
    november = fixed_by_day(costs, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert set(november.values()) == {Decimal("1")}  # $30 over 30 days
    december = fixed_by_day(costs, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    # 30e9 nano-dollars over 31 days: 967,741,935 each and 15 left over, one each to the first 15 days.
    assert december[dt.date(2026, 12, 1)] == december[dt.date(2026, 12, 15)] == Decimal("0.967741936")
    assert december[dt.date(2026, 12, 16)] == december[dt.date(2026, 12, 31)] == Decimal("0.967741935")
    assert sum(december.values()) == Decimal("30")
    across = fixed_by_day(costs, dt.date(2026, 11, 29), dt.date(2026, 12, 2))
    assert sum(across.values()) == Decimal("2") + Decimal("0.967741936") * 2
    later = [FixedCost("server", Decimal("30"), dt.date(2026, 12, 20))]  # in force from the 20th: the whole month
    assert sum(fixed_by_day(later, dt.date(2026, 12, 1), dt.date(2026, 12, 31)).values()) == Decimal("30")
    assert fixed_by_day(later, dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == {
        dt.date(2026, 11, d): Decimal(0) for d in range(1, 31)
    }


def test_a_part_of_a_days_share_is_by_largest_remainder() -> None:
    assert part_of(Decimal("1"), 1, 2) == Decimal("0.5")
    # 1e9 nanos, 1 : 2 → 333,333,333.3 and 666,666,666.7: the nano left goes to the larger remainder (the 2/3).
    assert part_of(Decimal("1"), 1, 3) == Decimal("0.333333333")
    assert part_of(Decimal("1"), 2, 3) == Decimal("0.666666667")
    assert part_of(Decimal("1"), 0, 3) == part_of(Decimal("1"), 1, 0) == Decimal(0)
    assert previous_period(NOV_10, NOV_12) == (dt.date(2026, 11, 7), dt.date(2026, 11, 9))


@settings(max_examples=400, deadline=None)
@given(
    nanos=st.integers(min_value=1, max_value=10**20) | st.integers(min_value=1, max_value=50),
    part=st.integers(min_value=1, max_value=5_000),
    rest=st.integers(min_value=0, max_value=5_000),
)
def test_a_part_of_a_days_share_is_the_first_of_its_largest_remainder_split(nanos: int, part: int, rest: int) -> None:
    amount = Decimal(nanos).scaleb(-9)
    assert part_of(amount, part, part + rest) == allocate(amount, [part, rest])[0]
    # Halfway remainders go to the part (the earlier one): 5 nanos over 1 : 1 → 3 and 2.
    assert part_of(Decimal("5e-9"), 1, 2) == Decimal("3e-9")


def test_the_whole_cost_of_a_range_is_metered_plus_extra_plus_fixed(small: Ledger) -> None:
    with small.store.engine.connect() as connection:
        whole = whole_cost(connection, small.config, RANGE)
    # metered 0.06 + 0.12 + 1.50 (the unpriced event adds nothing); one expert session: $60; 3 days × $1
    assert whole.parts == CostParts(Decimal("1.68"), Decimal("60"), Decimal("3"))
    assert whole.parts.total == Decimal("64.68")
    assert (whole.events, whole.unpriced, whole.sessions, whole.allocated) == (4, 1, 4, True)
    assert whole.by_day[NOV_10] == CostParts(Decimal("0.18"), Decimal("60"), Decimal("1"))
    assert whole.by_day[NOV_12] == CostParts(Decimal(0), Decimal(0), Decimal("1"))  # no session, still a day of rent
    assert small.total_usd(since=NOV_10, until=NOV_12) == whole.parts.metered


def test_a_tier_carries_its_sessions_extra_and_its_part_of_each_days_fixed_cost(small: Ledger) -> None:
    with small.store.engine.connect() as connection:
        pro = whole_cost(connection, small.config, Filters(since=NOV_10, until=NOV_12, dims={"tier": "pro"}))
        free = whole_cost(connection, small.config, Filters(since=NOV_10, until=NOV_12, dims={"tier": "free"}))
        deepgram = whole_cost(connection, small.config, Filters(since=NOV_10, until=NOV_12, dims={"service": "acme"}))
    # pro: s1 ($0.06, expert) and s3 ($1.50); Nov 10: 1 of 2 sessions → $0.50, Nov 11: 1 of 2 → $0.50, Nov 12: none
    assert pro.parts == CostParts(Decimal("1.56"), Decimal("60"), Decimal("1.00"))
    assert free.parts == CostParts(Decimal("0.12"), Decimal("0"), Decimal("1.00"))
    # A service filter selects events: a session's extra cost and the rent belong to no service.
    assert deepgram.parts == CostParts(Decimal("1.68"), Decimal(0), Decimal(0)) and not deepgram.allocated


def test_sessions_cost_users_and_the_listing_by_whole_cost(small: Ledger) -> None:
    with small.store.engine.connect() as connection:
        held = sessions_cost(connection, small.config, RANGE)
        users = with_metered(sessions_side(connection, small.config, RANGE, "user"),
                             {"a": Decimal("1.56"), "b": Decimal("0.12")})  # fmt: skip
        extra, fixed = whole_sort_nanos(connection, small.config, NOV_10, NOV_12)
        by_total, count = list_whole(connection, RANGE, "total", True, extra=extra, fixed=fixed)
        by_metered, _ = list_whole(connection, RANGE, "metered", True, extra=extra, fixed=fixed)
        streamed = list(stream_sessions(connection, RANGE, "total", True, extra=extra, fixed=fixed))
        unpriced, n_unpriced = list_whole(connection, Filters(since=NOV_10, until=NOV_12, unpriced=True))
        counts = session_counts(connection, RANGE, ["mode"])
    # The sessions only: no day without a session carries rent here (Nov 12 does not).
    assert (held.sessions, held.parts) == (4, CostParts(Decimal("1.68"), Decimal("60"), Decimal("2")))
    assert users["a"] == CostParts(Decimal("1.56"), Decimal("60"), Decimal("1.00"))
    assert users["b"] == CostParts(Decimal("0.12"), Decimal("0"), Decimal("0.50"))
    assert users["c"] == CostParts(Decimal("0"), Decimal("0"), Decimal("0.50"))
    assert extra == {"expert": 60_000_000_000}
    assert fixed == {"2026-11-10": 500_000_000, "2026-11-11": 500_000_000}
    # Whole: s1 0.06 + 60 + 0.50 = 60.56; s3 1.50 + 0.50 = 2.00; s2 0.12 + 0.50 = 0.62; s4 0 + 0.50 = 0.50.
    assert [s.session_id for s in by_total] == ["s1", "s3", "s2", "s4"] and count == 4
    assert [s.session_id for s in by_metered] == ["s3", "s2", "s1", "s4"]
    assert [s.session_id for s in streamed] == ["s1", "s3", "s2", "s4"]
    assert ([s.session_id for s in unpriced], n_unpriced) == (["s4"], 1)
    assert counts == {(NOV_10, "expert"): 1, (NOV_10, "chat"): 1, (NOV_11, "chat"): 2}


def test_a_users_sessions_carry_their_days_shares_with_every_session_counted_once(small: Ledger) -> None:
    from sqlalchemy import event

    user_a = Filters(since=NOV_10, until=NOV_12, dims={"user_id": "a"})
    counted: list[str] = []
    kept: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "count(*)" in statement and "FROM sessions" in statement:
            counted.append(statement)
        if "FROM session_starts" in statement:
            kept.append(statement)

    event.listen(small.store.engine, "before_cursor_execute", seen)
    try:
        with small.store.engine.connect() as connection:
            whole_sort_nanos(connection, small.config, NOV_10, NOV_12)  # the range's sessions, counted
            held = sessions_cost(connection, small.config, user_a)
    finally:
        event.remove(small.store.engine, "before_cursor_execute", seen)
    # a: s1 (Nov 10, expert, $0.06) and s3 (Nov 11, $1.50), each one of its day's two sessions: $0.50 of $1.
    assert (held.sessions, held.parts) == (2, CostParts(Decimal("1.56"), Decimal("60"), Decimal("1.00")))
    # The days' sessions read once, from the kept counts per day: the days' shares of the user's sessions
    # divide by what the page had read already (the user's span was counted again before), and no
    # session is counted one by one.
    assert (len(kept), counted) == (1, []), (kept, counted)


def test_session_counts_by_tier_and_mode_are_read_once_a_transaction_and_never_kept_past_it(small: Ledger) -> None:
    # Counted by hand from the fixture: Nov 10 s1 (pro, expert) and s2 (free, chat); Nov 11 s3 (pro,
    # chat) and s4 (free, chat).
    with small.store.engine.connect() as connection:
        asked = [session_counts(connection, RANGE, by) for by in ((), ["mode"], ["tier"], ["mode", "tier"],
                                                                   ["tier", "mode"], ["user"])]  # fmt: skip
        asked[4][(NOV_10, "pro", "expert")] = 99  # a caller's changes to its answer are its own
        again = session_counts(connection, RANGE, ["tier", "mode"]), session_counts(connection, RANGE)
        nov_11 = session_counts(connection, Filters(since=NOV_11, until=NOV_11), ["tier"])
    assert asked[1:] == [
        {(NOV_10, "expert"): 1, (NOV_10, "chat"): 1, (NOV_11, "chat"): 2},
        {(NOV_10, "pro"): 1, (NOV_10, "free"): 1, (NOV_11, "pro"): 1, (NOV_11, "free"): 1},
        {(NOV_10, "expert", "pro"): 1, (NOV_10, "chat", "free"): 1, (NOV_11, "chat", "pro"): 1,
         (NOV_11, "chat", "free"): 1},
        {(NOV_10, "pro", "expert"): 99, (NOV_10, "free", "chat"): 1, (NOV_11, "pro", "chat"): 1,
         (NOV_11, "free", "chat"): 1},
        {(NOV_10, "a"): 1, (NOV_10, "b"): 1, (NOV_11, "a"): 1, (NOV_11, "c"): 1},
    ]  # fmt: skip
    assert again == ({(NOV_10, "pro", "expert"): 1, (NOV_10, "free", "chat"): 1, (NOV_11, "pro", "chat"): 1,
                      (NOV_11, "free", "chat"): 1}, {(NOV_10,): 2, (NOV_11,): 2})  # fmt: skip
    assert nov_11 == {(NOV_11, "pro"): 1, (NOV_11, "free"): 1}
    # A session recorded after that transaction is counted by the next one, on the same pooled connection.
    with clock.use(dt.datetime(2026, 11, 12, 12, tzinfo=dt.UTC)):
        small.record({"event_id": "e5", "ts": at(NOV_12, 9), "service": "acme", "model": "talk",
                      "usage": {"audio_seconds": 60}, "session_id": "s5", "mode": "chat", "tier": "pro"})  # fmt: skip
    with small.store.engine.connect() as connection:
        assert session_counts(connection, RANGE, ["tier"])[(NOV_12, "pro")] == 1
        assert session_counts(connection, RANGE) == {(NOV_10,): 2, (NOV_11,): 2, (NOV_12,): 1}


def test_a_range_inside_one_read_already_is_taken_from_it_and_other_filters_are_not(small: Ledger) -> None:
    # Nov 11 by hand: s3 (chat, pro, $1.50 reported) and s4 (chat, free, unpriced: $0). Chat: 2 sessions,
    # $1.50 in all, $0.75 each; nearest rank p50 = the 1st of 2 ($0), p90 = the 2nd ($1.50).
    nov_11, pro = Filters(since=NOV_11, until=NOV_11), Filters(since=NOV_10, until=NOV_12, dims={"tier": "pro"})
    chat = ModeCost("chat", 2, Decimal("1.5"), Decimal("0.75"), Decimal("0"), Decimal("1.5"))
    with small.store.engine.connect() as connection:  # read on their own: grouped in the database
        alone = session_counts(connection, nov_11, ["mode"]), session_costs_by_mode(connection, nov_11)
    with small.store.engine.connect() as connection:
        assert read_already(connection, nov_11) is None
        assert len(range_sessions(connection, RANGE)) == 4
        assert [row[DAY] for row in read_already(connection, nov_11) or []] == ["2026-11-11", "2026-11-11"]
        assert read_already(connection, pro) is None  # the tier filter: not a part of the unfiltered read
        taken = session_counts(connection, nov_11, ["mode"]), session_costs_by_mode(connection, nov_11)
        pro_counts = session_counts(connection, pro, ["mode"])
    assert alone == taken == ({(NOV_11, "chat"): 2}, [chat])
    assert pro_counts == {(NOV_10, "expert"): 1, (NOV_11, "chat"): 1}


def test_the_month_end_forecast_projects_each_part(small: Ledger) -> None:
    with small.store.engine.connect() as connection:
        forecast = month_forecast(connection, small.config, NOV_12, Filters())
    # Run-rate days: Nov 10 and 11 (the ledger's first day bounds the week). Metered: 1.68 so far, rate
    # (0.18 + 1.50) / 2 = 0.84, today 0 → 1.68 + 0.84 + 0.84 × 18 days left = 17.64. Extra: rate 60 / 2 = 30
    # → 60 + 30 + 30 × 18 = 630. Fixed: known ahead, the whole month: $30.
    assert forecast.month == "2026-11"
    assert forecast.to_date == CostParts(Decimal("1.68"), Decimal("60"), Decimal("12"))
    assert forecast.forecast == CostParts(Decimal("17.64"), Decimal("630"), Decimal("30"))
    assert forecast.run_rate.metered == Decimal("0.84") and forecast.run_rate.extra == Decimal("30")


def test_search_finds_sessions_and_users_by_the_start_of_their_id(small: Ledger) -> None:
    """On SQLite by a range of the index, on PostgreSQL by LIKE: the same ids, case as written."""
    with small.store.engine.connect() as connection:
        found = find_ids(connection, "s", ["2026-11"])
        exact = find_ids(connection, "s3", ["2026-11"])
        user = find_ids(connection, "a", ["2026-11"])
        nothing = find_ids(connection, "S", ["2026-11"])  # case as written
        elsewhere = find_ids(connection, "a", ["2026-10"])
    assert found.sessions == ["s1", "s2", "s3", "s4"] and found.users == []
    assert exact.sessions == ["s3"]
    assert user.users == ["a"] and elsewhere.users == []
    assert nothing.sessions == [] and nothing.users == []
