"""How many sessions with events started each UTC day per tier and mode hold a cost in each band: kept
with the sessions, so that a range's exact nearest-rank percentiles of session cost by mode (or of a
tier's, for the plans at their limit: plan_ranks.py) read a row per day, tier, mode and band and then one
band's sessions, not every session of the range.

A band is a contiguous range of nano-dollars, and bands are ordered as the costs they hold: a cost
below 100 nano-dollars is its own band; a larger one below 10^18 (a stored sum's low part) is in the
band of its number of digits and its first two digits (`digits * 100 + first two`: 0.0500000 to
0.0509999… USD is band 850), 1-10% wide; every negative cost is band -1 and every cost of 10^18 or
more is band 9999. The nearest-rank p-th percentile of n costs is the one at rank ceil(p × n): the
band that holds that rank is found by adding up the bands' counts in order, and the cost is the
(rank − the count below it)-th of that band's sessions in the range, in cost order, read through
ix_sessions_mode_cost (the mode's sessions by cost, each with its start).

The writer moves a session from band to band as its cost grows, with session_starts
(session_starts.transitions); `db check` recounts the table from the sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    Select,
    String,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
)

from ..money import SPLIT
from .raw import fetch_raw
from .schema import session_bands, sessions
from .session_day import session_day
from .session_starts import Transition

NEGATIVE = -1
HUGE = 9999  # 10^18 nano-dollars (a billion dollars) or more

# A change to session_bands: day, tier and mode ('' for none), band, sessions (signed).
Banded = tuple[dt.date, str, str, int, int]


def band(nanos: int) -> int:
    """The band of a cost in nano-dollars (see above)."""
    if nanos < 0:
        return NEGATIVE
    if nanos >= SPLIT:
        return HUGE
    if nanos < 100:
        return nanos
    digits = str(nanos)
    return len(digits) * 100 + int(digits[:2])


def stored_band(high: Any, low: Any) -> Any:
    """band() of a stored (high, low) cost, in SQL: the same number on SQLite and PostgreSQL."""
    text = cast(low, String)
    two: Any = literal_column("2")
    return case(
        (high < 0, literal_column(str(NEGATIVE))),
        (high > 0, literal_column(str(HUGE))),
        (low < literal_column("100"), low),
        else_=func.length(text) * literal_column("100") + cast(func.substr(text, literal_column("1"), two), Integer),
    )


def within(found: int) -> list[Any]:
    """The conditions on a session's stored cost that hold exactly for the costs of band `found`."""
    high, low = sessions.c.cost_high, sessions.c.cost
    if found == NEGATIVE:
        return [high < 0]
    if found == HUGE:
        return [high > 0]
    if found < 100:
        return [high == 0, low == found]
    length, first = divmod(found, 100)
    unit = 10 ** (length - 2)
    return [high == 0, low >= first * unit, low < (first + 1) * unit]


def banded(placed: Iterable[Transition]) -> list[Banded]:
    """The (day, tier, mode, band, sessions) changes to add to session_bands for a batch's transitions
    (session_starts.transitions): each session leaves the band of the cost it had and joins the band of
    the cost it has then."""
    change: dict[tuple[str, str, str, int], int] = {}
    for gone, now in placed:
        if gone is not None:
            key = (gone[0], gone[1] or "", gone[2] or "", band(gone[3]))
            change[key] = change.get(key, 0) - 1
        if now is not None:
            key = (now[0], now[1] or "", now[2] or "", band(now[3]))
            change[key] = change.get(key, 0) + 1
    return [(dt.date.fromisoformat(day), tier, mode, at, n)
            for (day, tier, mode, at), n in sorted(change.items()) if n]  # fmt: skip


def recounted_bands(dialect: str) -> Select[Any]:
    """session_bands recounted from the sessions table, in its key order (day, tier, mode, band, sessions),
    each day as the table's Date column reads raw on `dialect` (SQLite: its text)."""
    day = cast(sessions.c.started_at, Date) if dialect == "postgresql" else session_day(dialect)
    key = [
        day,
        func.coalesce(sessions.c.tier, literal_column("''")),
        func.coalesce(sessions.c.mode, literal_column("''")),
        stored_band(sessions.c.cost_high, sessions.c.cost),
    ]
    return select(*key, func.count()).where(sessions.c.events > 0).group_by(*key).order_by(*key)


def rebuild_bands(connection: Connection) -> None:
    """Recount session_bands from the sessions table, replacing what it holds: for stores whose sessions
    were filled in bulk (INSERT … SELECT, as a benchmark does), bypassing the writer."""
    rows = fetch_raw(connection, recounted_bands(connection.dialect.name))
    connection.execute(delete(session_bands))
    if rows:
        values = [
            {"day": day if isinstance(day, dt.date) else dt.date.fromisoformat(day), "tier": tier, "mode": mode,
             "band": int(at), "sessions": int(n)}
            for day, tier, mode, at, n in rows
        ]  # fmt: skip
        connection.execute(insert(session_bands), values)


__all__ = ["HUGE", "NEGATIVE", "Banded", "band", "banded", "rebuild_bands", "recounted_bands", "stored_band", "within"]
