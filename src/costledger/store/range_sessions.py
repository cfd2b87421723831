"""The sessions a range selects, as the pages that walk them read them: once per transaction.

The overview ranks the range's session costs by mode, counts them per day, mode and tier, and
projects each plan's sessions at their limit; the users page counts them per day, user and mode.
Each of those is a pass over the same sessions (those with events, started in the range, the
other filters applied), so one read of their id, start day, user, tier, mode, unpriced count and
cost serves them all (store/transaction_memo.py). A range inside one already read with the same
other filters (the month to date inside the last 30 days) is taken from it: a session is in a
range exactly when the day it started is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Final

from sqlalchemy import Connection, select

from ..money import SPLIT
from .raw import fetch_raw
from .schema import sessions
from .session_day import session_day
from .sessions_query import session_conditions
from .transaction_memo import recalled, remembered
from .types import Filters

_NAME = "range_sessions"
_Reads = list[tuple[dt.date | None, dt.date | None, list["RangeSession"]]]


# A session with events, as a plain tuple (a range holds tens of thousands of them, and a tuple made
# in place costs a fraction of a named one): its id, the UTC day it started ('YYYY-MM-DD'), user,
# tier, mode, how many of its events are unpriced, and its cost in nano-dollars.
RangeSession = tuple[str, str, str | None, str | None, str | None, int, int]
SESSION_ID: Final = 0
DAY: Final = 1
USER: Final = 2
TIER: Final = 3
MODE: Final = 4
UNPRICED: Final = 5
COST: Final = 6


def _covers(wide: tuple[dt.date | None, dt.date | None], since: dt.date | None, until: dt.date | None) -> bool:
    first, last = wide
    return (first is None or (since is not None and first <= since)) and (
        last is None or (until is not None and until <= last)
    )


def _within(rows: list[RangeSession], since: dt.date | None, until: dt.date | None) -> list[RangeSession]:
    low, high = since.isoformat() if since else "", until.isoformat() if until else "9999-12-31"
    return [row for row in rows if low <= row[DAY] <= high]


def read_already(connection: Connection, filters: Filters) -> list[RangeSession] | None:
    """range_sessions' answer if this transaction has read these sessions (or a wider range of them), else None."""
    reads: _Reads | None = recalled(connection, _NAME, repr(replace(filters, since=None, until=None)))
    for since, until, rows in reads or ():
        if (since, until) == (filters.since, filters.until):
            return rows
        if _covers((since, until), filters.since, filters.until):
            return _within(rows, filters.since, filters.until)
    return None


def range_sessions(connection: Connection, filters: Filters) -> list[RangeSession]:
    """The sessions with events the filters select (in no set order), read once per transaction.

    The caller must not change the list."""
    found = read_already(connection, filters)
    if found is not None:
        return found
    s = sessions.c
    query = select(s.session_id, session_day(connection.dialect.name), s.user_id, s.tier, s.mode, s.unpriced,
                   s.cost_high, s.cost).where(s.events > 0, *session_conditions(connection, filters))  # fmt: skip
    # The driver's tuples (store/raw.py), the cost's two parts put together only where it has a high part.
    rows = [
        (session_id, day, user, tier, mode, unpriced, high * SPLIT + low if high else low)
        for session_id, day, user, tier, mode, unpriced, high, low in fetch_raw(connection, query)
    ]
    reads: _Reads = remembered(connection, _NAME, repr(replace(filters, since=None, until=None)), list)
    reads.append((filters.since, filters.until, rows))
    return rows


__all__ = [
    "COST",
    "DAY",
    "MODE",
    "SESSION_ID",
    "TIER",
    "UNPRICED",
    "USER",
    "RangeSession",
    "range_sessions",
    "read_already",
]
