"""How many sessions started each day, per mode or per user: what per-session extra costs and
the per-day share of fixed costs are counted from (costledger.total_cost).

Only sessions with at least one event count, as everywhere a session is counted. The
counts come from the sessions table, one grouped pass over the sessions the range and
filters select (ix_sessions_started bounds it by the range).

A page asks for one range's counts several times over (by mode for the extra cost, in all for
the fixed shares, by tier and mode for its tiers, again for the whole cost of its sessions):
each of those is a sum of the counts by day, tier and mode, so that is read once per
transaction and summed for each question (_few).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal_column, select

from .schema import sessions
from .sessions_query import session_conditions
from .types import Filters

# What the counts can be grouped by, beside the day.
COUNT_GROUPS = {"mode": sessions.c.mode, "user": sessions.c.user_id, "tier": sessions.c.tier}


def session_day(dialect: str) -> ColumnElement[Any]:
    """The UTC day a session started, as 'YYYY-MM-DD' on either backend."""
    if dialect == "postgresql":
        return func.to_char(sessions.c.started_at, literal_column("'YYYY-MM-DD'"))
    # SQLite keeps a DateTime as text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(sessions.c.started_at, literal_column("1"), literal_column("10"))


def session_counts(connection: Connection, filters: Filters, by: Sequence[str] = ()) -> dict[tuple[Any, ...], int]:
    """(day as a date, *values of `by`) → sessions with events started that day, among those the filters select.

    `by` names any of COUNT_GROUPS ("mode", "user", "tier"); since/until select the day a
    session started, as in the session listing.
    """
    unknown = [name for name in by if name not in COUNT_GROUPS]
    if unknown:
        raise ValueError(f"cannot count sessions by {unknown[0]!r}; choose from {', '.join(COUNT_GROUPS)}")
    if set(by) <= set(_FEW):
        return _few(connection, filters, by)
    return _counted(connection, filters, by)


# Few values each (a ledger has a handful of tiers and modes): counted together, a row per day,
# tier and mode, they answer every count by either, both or neither.
_FEW = ("tier", "mode")
_MEMO = "costledger.session_counts"
# The transaction the counts were read in, and the counts by repr(filters).
_Memo = tuple["weakref.ref[Any]", dict[str, dict[tuple[Any, ...], int]]]


def _few(connection: Connection, filters: Filters, by: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """session_counts by any of _FEW, summed from the counts by day, tier and mode, which are read
    once per transaction and filters (one snapshot: the same sessions each time)."""
    transaction = connection.get_transaction()
    memo: _Memo | None = connection.info.get(_MEMO)
    if transaction is None or memo is None or memo[0]() is not transaction:
        memo = None
    key = repr(filters)  # Filters holds mappings (no hash); equal filters written alike share a count
    base = memo[1].get(key) if memo is not None else None
    if base is None:
        base = _counted(connection, filters, _FEW)
        transaction = connection.get_transaction()  # begun by that read if none was
        if transaction is not None:
            if memo is None:
                # Kept on the driver's connection, for its current transaction only (a weak reference:
                # the next transaction, on the next checkout of this connection, starts afresh).
                memo = (weakref.ref(transaction), {})
                connection.info[_MEMO] = memo
            memo[1][key] = base
    if tuple(by) == _FEW:
        return dict(base)
    at = [1 + _FEW.index(name) for name in by]
    out: dict[tuple[Any, ...], int] = {}
    for found, n in base.items():
        summed = (found[0], *(found[i] for i in at))
        out[summed] = out.get(summed, 0) + n
    return out


def _counted(connection: Connection, filters: Filters, by: Sequence[str]) -> dict[tuple[Any, ...], int]:
    day = session_day(connection.dialect.name).label("day")
    keys = [day, *(COUNT_GROUPS[name].label(name) for name in by)]
    query = (
        select(*keys, func.count().label("n"))
        .where(sessions.c.events > 0, *session_conditions(connection, filters))
        .group_by(*keys)
    )
    parsed: dict[str, dt.date] = {}  # a range has few days and many rows: each parsed once
    out: dict[tuple[Any, ...], int] = {}
    for row in connection.execute(query):
        started = parsed.get(row[0])
        if started is None:
            started = parsed[row[0]] = dt.date.fromisoformat(row[0])
        out[(started, *row[1:-1])] = int(row[-1])
    return out


__all__ = ["COUNT_GROUPS", "session_counts", "session_day"]
