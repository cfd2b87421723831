"""Cost per session by mode (count, total, average, exact p50/p90) and distinct users per tier, of the
sessions a filter selects: the overview's one part that reads sessions rather than totals.

The modes come from what the writer keeps (session_starts' counts and costs, session_bands' cost bands)
when the filter selects by no more than the day and the mode; for a whole month (the overview,
unfiltered) the users per tier come from the month index of schema.py by loose index scans, inside
the database; for anything else, one pass over the selected sessions ranks them in Python.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal,
    literal_column,
    select,
)

from ..money import from_nanos, quantize, usd
from .band_percentiles import kept_ranks, postgres_kept
from .range_sessions import COST, MODE, TIER, USER, RangeSession, range_sessions, read_already
from .schema import session_month, sessions
from .session_starts import kept_modes
from .sessions_query import session_conditions
from .types import Filters

_ZERO = Decimal(0)


@dataclass(frozen=True)
class ModeCost:
    """Cost per session of one mode: sessions started this month with at least one event."""

    mode: str | None
    sessions: int
    cost_usd: Decimal  # all of them
    avg_usd: Decimal
    p50_usd: Decimal  # nearest-rank percentiles: an actual session's cost
    p90_usd: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sessions": self.sessions,
            "cost_usd": usd(self.cost_usd),
            "avg_usd": usd(self.avg_usd),
            "p50_usd": usd(self.p50_usd),
            "p90_usd": usd(self.p90_usd),
        }


def month_sessions(connection: Connection, filters: Filters) -> tuple[list[ModeCost], dict[str | None, int]]:
    """Cost per session by mode (count, total, average, nearest-rank p50/p90) and distinct users per
    tier, of the sessions the filters select (those with at least one event).

    When those are exactly the sessions started in one month (the overview, unfiltered), the kept counts
    and the month index answer in the database (_indexed_month); otherwise one pass ranks them in Python.
    """
    first = _whole_month(connection, filters)
    found = _indexed_month(connection, filters, first) if first is not None else None
    return found if found is not None else _scanned_sessions(connection, filters)


def _ranks(n: int) -> tuple[int, int]:
    """Nearest rank: the p-th percentile of n values is the one at rank ceil(p × n) (1-based); p50, p90."""
    return (n + 1) // 2, (9 * n + 9) // 10


def _mode_cost(mode: str | None, n: int, total: int, p50: int, p90: int) -> ModeCost:
    spent = from_nanos(total) or _ZERO
    return ModeCost(mode, n, spent, quantize(spent / n), from_nanos(p50) or _ZERO, from_nanos(p90) or _ZERO)


def _mode_order(mode: str | None) -> tuple[bool, str]:
    return mode is None, mode or ""


def _scanned_sessions(connection: Connection, filters: Filters) -> tuple[list[ModeCost], dict[str | None, int]]:
    """month_sessions for any filters, from one narrow pass over the sessions they select.

    It grows with the sessions selected: an exact percentile needs every one of them. Ranking in
    Python from one pass costs half of what window functions cost in SQLite, and the same in
    PostgreSQL; the pass is the one the page's other session figures read (store/range_sessions.py).
    """
    # The modes from the kept counts where they answer (kept_mode_costs): ranking the pass costs more.
    kept = kept_mode_costs(connection, filters)
    held = read_already(connection, filters)
    if kept is not None and held is None:
        # No reader of this transaction has the sessions in hand: the users counted in the database, in
        # under half the pass's time (28 against 61 ms at 1M events, 383 against ~900 ms at 10M).
        return kept, _counted_users(connection, filters)
    if held is None:
        held = range_sessions(connection, filters)
    return kept if kept is not None else _ranked(held), _users(held)


def _counted_users(connection: Connection, filters: Filters) -> dict[str | None, int]:
    """_users of the sessions the filters select, counted by the database: distinct users per tier."""
    s = sessions.c
    query = (
        select(s.tier, func.count(s.user_id.distinct()))
        .where(s.events > 0, s.user_id.is_not(None), *session_conditions(connection, filters))
        .group_by(s.tier)
    )
    return {tier: int(n) for tier, n in connection.execute(query) if n}


def _users(held: list[RangeSession]) -> dict[str | None, int]:
    """Distinct users per tier of these sessions."""
    return dict(Counter(tier for tier, user in set(map(itemgetter(TIER, USER), held)) if user is not None))


def _ranked(held: list[RangeSession]) -> list[ModeCost]:
    """Each mode's count, cost and nearest-rank p50 and p90 of these sessions, ranked here."""
    costs: dict[str | None, list[int]] = {}
    # Sorted by cost in C first: each mode's list is then made in order, with no sort of its own.
    for mode, cost in map(itemgetter(MODE, COST), sorted(held, key=itemgetter(COST))):
        found = costs.get(mode)
        if found is None:
            costs[mode] = [cost]
        else:
            found.append(cost)
    by_mode = []
    for mode, found in sorted(costs.items(), key=lambda item: _mode_order(item[0])):
        p50, p90 = _ranks(len(found))
        by_mode.append(_mode_cost(mode, len(found), sum(found), found[p50 - 1], found[p90 - 1]))
    return by_mode


def _next_month(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _whole_month(connection: Connection, filters: Filters) -> dt.date | None:
    """The first day of the month whose sessions are exactly those the filters select, or None.

    That is when nothing but the dates filters, `since` is the first of a month, `until` is in that
    month, and no session with events started in the month after `until` (one look at the index on
    started_at): so the overview of the month's last day with events, as the dashboard shows it.
    """
    first, until = filters.since, filters.until
    if not filters.by_start_and():
        return None
    if first is None or until is None or first.day != 1 or not first <= until < _next_month(first):
        return None
    after, following = until + dt.timedelta(days=1), _next_month(first)
    if after < following:
        started = sessions.c.started_at
        later = select(literal(1)).where(
            started >= _midnight(after), started < _midnight(following), sessions.c.events > 0
        )
        if connection.execute(later.limit(1)).first() is not None:
            return None
    return first


def _month_key(dialect: str, first: dt.date) -> str | dt.datetime:
    """The month of `first` as session_month(dialect) gives it."""
    return _midnight(first) if dialect == "postgresql" else first.strftime("%Y-%m")


@dataclass(frozen=True)
class _MonthReads:
    """The indexed path's statements for one dialect, built once: building them costs more than
    running them on a small month. Bound at each run: month, and tier or budget."""

    tiers: Select[Any]  # the tiers, by a loose index scan
    users: dict[bool, Select[Any]]  # by "tier is None": how many users the tier has, by a loose index scan
    pairs: Select[Any]  # per tier: how many users, by one pass


@functools.cache
def _month_reads(dialect: str) -> _MonthReads:
    month = bindparam("month", type_=DateTime() if dialect == "postgresql" else String())
    # 0 written out: a plan made for any parameter values (PostgreSQL's generic plan of a prepared
    # statement) may use a partial index only if the query states its condition itself.
    in_month = [session_month(dialect) == month, sessions.c.events > literal_column("0")]
    tier, user = sessions.c.tier, sessions.c.user_id

    def count_users(same: ColumnElement[bool]) -> Select[Any]:
        scan = _loose_scan(user, [*in_month, same])
        return select(func.count(scan.c.value))

    tiers = _loose_scan(tier, in_month)
    pairs = select(tier, user).where(*in_month, user.is_not(None)).distinct().subquery()
    return _MonthReads(
        tiers=select(tiers.c.value).where(tiers.c.value.is_not(None)),
        users={True: count_users(tier.is_(None)), False: count_users(tier == bindparam("tier"))},
        pairs=select(pairs.c.tier, func.count()).group_by(pairs.c.tier),
    )


def _indexed_month(
    connection: Connection, filters: Filters, first: dt.date
) -> tuple[list[ModeCost], dict[str | None, int]] | None:
    """month_sessions for the sessions started in the month of `first` (those the filters select), no
    session's row leaving the database: the modes from the kept counts (kept_mode_costs), the users per
    tier from the month index by loose index scans (_users_by_tier). None when the kept counts do not
    answer (a store filled in bulk without them).
    """
    by_mode = kept_mode_costs(connection, filters)
    if by_mode is None:
        return None
    budget = sum(m.sessions for m in by_mode) // _SEEK_STEPS[connection.dialect.name]
    return by_mode, _users_by_tier(connection, first, budget)


# What one seek of a loose index scan costs, counted in index entries a pass steps over in the same
# time (measured at 10M events: SQLite about 4 µs against 0.08 to 0.13 µs, PostgreSQL about 25 µs
# against 0.2 µs), and the fewest seeks worth their extra statements (about 0.1 ms each on SQLite,
# 0.3 ms on PostgreSQL): below that, the pass.
_SEEK_STEPS = {"sqlite": 48, "postgresql": 96}
_MIN_SEEKS = 256


def _loose_scan(column: ColumnElement[Any], conditions: list[ColumnElement[bool]]) -> CTE:
    """The distinct non-null values of `column` among the rows `conditions` select, smallest first,
    each found by one index seek for the next value up (a loose index scan: neither SQLite nor
    PostgreSQL plans one by itself). At most `budget` (bound) rows; a NULL value ends the list.
    """

    def above(bound: ColumnElement[bool]) -> Any:
        return select(column).where(*conditions, bound).order_by(column).limit(1).scalar_subquery()

    # literal_column, not bound parameters: PostgreSQL wants the same integer type in both terms.
    found = select(above(column.is_not(None)).label("value"), literal_column("1").label("n")).cte(recursive=True)
    step = select(above(column > found.c.value), found.c.n + literal_column("1"))
    return found.union_all(step.where(found.c.value.is_not(None), found.c.n < bindparam("budget", type_=Integer())))


def _users_by_tier(connection: Connection, first: dt.date, budget: int) -> dict[str | None, int]:
    """Distinct users per tier (users of no tier under None) among the sessions with events started in
    the month of `first`: by loose index scans when they take at most `budget` seeks, else one pass.
    """
    users = _seek_users(connection, first, budget) if budget >= _MIN_SEEKS else None
    if users is None:
        month = {"month": _month_key(connection.dialect.name, first)}
        users = {tier: n for tier, n in connection.execute(_month_reads(connection.dialect.name).pairs, month)}
    return users


def _seek_users(connection: Connection, first: dt.date, budget: int) -> dict[str | None, int] | None:
    """_users_by_tier by loose index scans of (month, tier, user), or None past `budget` seeks.

    A month has far fewer users than sessions: one seek per tier, then one per user of each tier.
    On PostgreSQL each statement sees the sessions as they are when it starts: a tier's users are
    counted at once, the tiers a few milliseconds apart.
    """
    reads, month = _month_reads(connection.dialect.name), {"month": _month_key(connection.dialect.name, first)}
    found = [tier for (tier,) in connection.execute(reads.tiers, {**month, "budget": budget})]
    budget -= len(found) + 1  # the last seek finds no further tier (or the budget ran out)
    users: dict[str | None, int] = {}
    for tier in [*found, None]:
        if budget <= 0:
            return None
        which = {**month, "budget": budget} | ({} if tier is None else {"tier": tier})
        count = connection.execute(reads.users[tier is None], which).scalar_one()
        if count == budget:  # there may be more
            return None
        budget -= count + 1
        if count:
            users[tier] = count
    return users


def session_costs_by_mode(connection: Connection, filters: Filters = Filters()) -> list[ModeCost]:
    """Cost per session by mode (count, total, average, p50, p90) of the sessions the filters select: from
    the kept counts when the filters select by no more than the day and the mode (kept_mode_costs)."""
    kept = kept_mode_costs(connection, filters)
    return kept if kept is not None else month_sessions(connection, filters)[0]


def kept_mode_costs(connection: Connection, filters: Filters) -> list[ModeCost] | None:
    """Cost per session by mode from what the writer keeps, whatever the number of sessions: each mode's
    count and cost from session_starts, its p50 and p90 from session_bands and a read of the band that
    holds each; None when the filters select by more than the day and the mode, or when the two tables
    do not count the same sessions (a store filled in bulk without them: then the sessions answer).

    On SQLite in the connection's read transaction (one snapshot); on PostgreSQL in one statement."""
    if connection.dialect.name == "postgresql":
        kept = postgres_kept(connection, filters)
        if kept is None:
            return None
        totals = {mode: (started, cost) for mode, (_, _, started, cost) in kept.items() if started}
        ranked = {mode: (n, picks) for mode, (n, picks, _, _) in kept.items() if n}
    else:
        found_totals = kept_modes(connection, filters)
        found_ranks = kept_ranks(connection, filters, _ranks) if found_totals is not None else None
        if found_totals is None or found_ranks is None:
            return None
        totals, ranked = found_totals, found_ranks
    if {mode: n for mode, (n, _) in totals.items() if n} != {mode: n for mode, (n, _) in ranked.items()}:
        return None
    found = [_mode_cost(mode, n, totals[mode][1], *picks) for mode, (n, picks) in ranked.items()]
    return sorted(found, key=lambda m: _mode_order(m.mode))
