"""How many sessions started each day, per mode or per user: what per-session extra costs and
the per-day share of fixed costs are counted from (costledger.total_cost).

Only sessions with at least one event count, as everywhere a session is counted. Counts by
day, tier and mode of a range selected by no more than those come from the kept per-day rows
(store/session_starts.py: a row per day, tier and mode, whatever the sessions); any other
count from the sessions table, one grouped pass over the sessions the range and filters select
(ix_sessions_started bounds it by the range).

A page asks for one range's counts several times over (by mode for the extra cost, in all for
the fixed shares, by tier and mode for its tiers, again for the whole cost of its sessions):
each is summed from one read by day, tier and mode (store/transaction_memo.py): the kept rows,
or the range's sessions when the page walks them anyway (store/range_sessions.py), else one
count by day, tier and mode for every question by either, both or neither.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, select

from .range_sessions import DAY, MODE, TIER, USER, range_sessions, read_already
from .schema import sessions
from .session_day import session_day
from .session_starts import kept_counts
from .sessions_query import session_conditions
from .transaction_memo import remembered
from .types import Filters

# What the counts can be grouped by, beside the day.
COUNT_GROUPS = {"mode": sessions.c.mode, "user": sessions.c.user_id, "tier": sessions.c.tier}
# Few values each (a ledger has a handful of tiers and modes): counted together, a row per day,
# tier and mode, they answer every count by either, both or neither.
_FEW = ("tier", "mode")
_AT = {"user": USER, "tier": TIER, "mode": MODE}  # where a RangeSession holds each group


def session_counts(connection: Connection, filters: Filters, by: Sequence[str] = ()) -> dict[tuple[Any, ...], int]:
    """(day as a date, *values of `by`) → sessions with events started that day, among those the filters select.

    `by` names any of COUNT_GROUPS ("mode", "user", "tier"); since/until select the day a
    session started, as in the session listing. The caller may change the answer.
    """
    unknown = [name for name in by if name not in COUNT_GROUPS]
    if unknown:
        raise ValueError(f"cannot count sessions by {unknown[0]!r}; choose from {', '.join(COUNT_GROUPS)}")
    if "user" in by:  # a row per user and day, nearly as many as the sessions: counted from them
        key = repr((filters, tuple(by)))
        return dict(remembered(connection, "session_counts_by_user", key, lambda: _from_rows(connection, filters, by)))
    base = remembered(connection, "session_counts", repr(filters), lambda: _few(connection, filters))
    at = [1 + _FEW.index(name) for name in by]
    out: dict[tuple[Any, ...], int] = {}
    for found, n in base.items():
        summed = (found[0], *(found[i] for i in at))
        out[summed] = out.get(summed, 0) + n
    return out


def _from_rows(connection: Connection, filters: Filters, by: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """The counts by day and `by` (never empty: by user, or by tier and mode) from the range's sessions
    (store/range_sessions.py), the keys picked and counted in C."""
    held = range_sessions(connection, filters)
    return _dated(Counter(map(itemgetter(DAY, *(_AT[name] for name in by)), held)).items())


def _dated(counted: Iterable[tuple[Sequence[Any], int]]) -> dict[tuple[Any, ...], int]:
    """(day as 'YYYY-MM-DD', *values) → n, with each day as a date: a range has few days and many
    keys, so each day is parsed once."""
    days: dict[str, dt.date] = {}
    out: dict[tuple[Any, ...], int] = {}
    for (day, *values), n in counted:
        started = days.get(day)
        if started is None:
            started = days[day] = dt.date.fromisoformat(day)
        out[(started, *values)] = int(n)
    return out


def _few(connection: Connection, filters: Filters) -> dict[tuple[Any, ...], int]:
    """The counts by day, tier and mode: kept (store/session_starts.py) when the filters select by no more
    than those; else from the range's sessions when the transaction read them, else grouped."""
    kept = kept_counts(connection, filters)
    if kept is not None:
        return kept
    if read_already(connection, filters) is not None:
        return _from_rows(connection, filters, _FEW)
    return _counted(connection, filters, _FEW)


def _counted(connection: Connection, filters: Filters, by: Sequence[str]) -> dict[tuple[Any, ...], int]:
    day = session_day(connection.dialect.name).label("day")
    keys = [day, *(COUNT_GROUPS[name].label(name) for name in by)]
    query = (
        select(*keys, func.count().label("n"))
        .where(sessions.c.events > 0, *session_conditions(connection, filters))
        .group_by(*keys)
    )
    return _dated((row[:-1], row[-1]) for row in connection.execute(query))


__all__ = ["COUNT_GROUPS", "session_counts", "session_day"]
