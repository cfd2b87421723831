"""How many sessions with events started each UTC day, per tier and mode, and their cost: kept with the
sessions.

A range's session counts and its sessions' metered cost (the per-session extra cost by mode, the fixed
costs' shares per day, the cost cards of every page, the session listing's count) are then a row per
day, tier and mode of the range, whatever the number of sessions, instead of a pass over the range's
sessions (280,000 a month at 10M events).

A batch can move a session between rows: an earlier event moves its start to an earlier day, its
first event makes it count, a later event may name its tier or mode first; each batch adds to its
cost. So the writer reads the
batch's sessions as they were before it writes them (`prior`), and `moved` says what each row
gains and loses. On PostgreSQL, where writers run at once, the sessions are locked first (a row for
each new one inserted empty, then every one read FOR UPDATE, in key order) so that no other writer
changes one between the read and the write (the insert waits for a writer that has the same session
in flight; FOR UPDATE for one that wrote it after the insert); SQLite's writer holds the only write
lock already.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Date, Select, cast, delete, func, insert, literal_column, select

from ..money import SPLIT, join, split
from .raw import fetch_raw
from .schema import session_starts, sessions
from .session_day import session_day
from .sums import DOLLAR
from .transaction_memo import remembered
from .types import Filters

# A session as it was before a batch: the day it started ('YYYY-MM-DD'), its tier, mode, events and
# cost in nano-dollars.
Prior = tuple[str, str | None, str | None, int, int]
# A change to session_starts: day, tier, mode ('' for none), sessions, nano-dollars (either signed).
Moved = tuple[dt.date, str, str, int, int]

_SQLITE_PRIOR = (
    "SELECT session_id, substr(started_at, 1, 10), tier, mode, events, cost_high, cost FROM sessions"
    " WHERE session_id IN (SELECT value FROM json_each(?))"
)
_POSTGRES_PRIOR = (
    "SELECT session_id, to_char(started_at, 'YYYY-MM-DD'), tier, mode, events, cost_high, cost FROM sessions"
    " WHERE session_id = ANY(%(ids)s) ORDER BY session_id FOR UPDATE"
)
# An empty session (no event, nothing counted) for each id not yet known, so there is a row to lock.
_POSTGRES_PLACEHOLDERS = (
    "INSERT INTO sessions (session_id, started_at, ended_at, events, unpriced, cost_high, cost)"
    " SELECT id, at, at, 0, 0, 0, 0 FROM unnest(%(ids)s::VARCHAR[], %(at)s::TIMESTAMP[]) AS t(id, at)"
    " ON CONFLICT (session_id) DO NOTHING"
)


def prior(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, Prior]:
    """The sessions of `rows` (sorted by id) as they are before the batch writes them: id → Prior."""
    ids = [row["session_id"] for row in rows]
    if connection.dialect.name == "postgresql":
        at = [row["started_at"] for row in rows]
        connection.exec_driver_sql(_POSTGRES_PLACEHOLDERS, {"ids": ids, "at": at})
        found = connection.exec_driver_sql(_POSTGRES_PRIOR, {"ids": ids})
    else:
        # One statement whatever the batch's size (no limit on bound parameters to mind).
        found = connection.exec_driver_sql(_SQLITE_PRIOR, (json.dumps(ids),))
    return {session_id: (day, tier, mode, int(events), join(high, low))
            for session_id, day, tier, mode, events, high, low in found}  # fmt: skip


# A session as the kept counts place it: the day it started ('YYYY-MM-DD'), its tier, mode and cost in
# nano-dollars.
Placed = tuple[str, str | None, str | None, int]
# Each session of a batch: where it counted before the batch and where it counts after (None: nowhere).
Transition = tuple[Placed | None, Placed | None]


def transitions(before: Mapping[str, Prior], rows: Sequence[Mapping[str, Any]]) -> Iterator[Transition]:
    """Where each session of `rows` (the batch's signed per-session counts, as the writer upserts them)
    counted before the batch and where it counts after it (None: nowhere, it has no event), as the
    upsert computes its new state over `before`: the earlier start, the tier and mode it had or else
    the batch's, the events and cost added up. What every count kept per session (session_starts,
    session_bands) moves by."""
    for row in rows:
        day = row["started_at"].date().isoformat()
        old = before.get(row["session_id"])
        if old is None:
            gone, now, events = None, (day, row["tier"], row["mode"], row["cost"]), row["events"]
        else:
            old_day, tier, mode, count, old_cost = old
            gone = (old_day, tier, mode, old_cost) if count > 0 else None
            tier = row["tier"] if tier is None else tier
            mode = row["mode"] if mode is None else mode
            now, events = (min(old_day, day), tier, mode, old_cost + row["cost"]), count + row["events"]
        yield gone, now if events > 0 else None


def moved(placed: Iterable[Transition]) -> list[Moved]:
    """The (day, tier, mode, sessions, nano-dollars) changes to add to session_starts for a batch's
    transitions: each session leaves the row it counted in, with the cost it had, and joins the one it
    counts in after, with the cost it has then."""
    change: dict[tuple[str, str, str], list[int]] = {}

    def add(key: tuple[str, str, str], sessions: int, nanos: int) -> None:
        found = change.get(key)
        if found is None:
            change[key] = [sessions, nanos]
        else:
            found[0] += sessions
            found[1] += nanos

    for gone, now in placed:
        if gone is not None:
            add((gone[0], gone[1] or "", gone[2] or ""), -1, -gone[3])
        if now is not None:
            add((now[0], now[1] or "", now[2] or ""), 1, now[3])
    return [(dt.date.fromisoformat(day), tier, mode, n, nanos)
            for (day, tier, mode), (n, nanos) in sorted(change.items()) if n or nanos]  # fmt: skip


def recounted(dialect: str) -> Select[Any]:
    """session_starts recounted from the sessions table, in its key order, each day as the table's Date
    column reads raw on `dialect` (SQLite: its text): day, tier, mode, sessions, and their cost summed in
    halves as store/sums.py sums it (the high parts, the whole dollars, the nano-dollars below a dollar;
    no SUM overflows). What `db check` compares and a rebuild writes (recounted_nanos)."""
    none: Any = literal_column("''")
    day = cast(sessions.c.started_at, Date) if dialect == "postgresql" else session_day(dialect)
    key = [day, func.coalesce(sessions.c.tier, none), func.coalesce(sessions.c.mode, none)]
    halves = (func.sum(sessions.c.cost_high), func.sum(sessions.c.cost // DOLLAR), func.sum(sessions.c.cost % DOLLAR))
    return select(*key, func.count(), *halves).where(sessions.c.events > 0).group_by(*key).order_by(*key)


def recounted_nanos(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row of `recounted` as (day, tier, mode, sessions, nano-dollars)."""
    high, dollars, nanos = (int(v or 0) for v in row[4:7])
    return (*row[:3], int(row[3]), high * SPLIT + dollars * DOLLAR + nanos)


def rebuild_starts(connection: Connection) -> None:
    """Recount session_starts from the sessions table, replacing what it holds: for stores whose sessions
    were filled in bulk (INSERT … SELECT, as a benchmark does), bypassing the writer."""
    rows = [recounted_nanos(row) for row in fetch_raw(connection, recounted(connection.dialect.name))]
    connection.execute(delete(session_starts))
    if rows:
        values = []
        for day, tier, mode, n, nanos in rows:
            high, low = split(nanos)
            values.append({"day": day if isinstance(day, dt.date) else dt.date.fromisoformat(day), "tier": tier,
                           "mode": mode, "sessions": n, "cost_high": high, "cost": low})  # fmt: skip
        connection.execute(insert(session_starts), values)


def _kept_rows(connection: Connection, filters: Filters) -> list[Any] | None:
    """The rows of session_starts the filters select (day, tier, mode, sessions, cost_high, cost), or None
    when the filters select by more than the day a session started, its tier and its mode (then only the
    sessions can answer). The caller must not change the list."""
    if not filters.by_start_and("tier", "mode"):
        return None
    t = session_starts.c
    query = select(t.day, t.tier, t.mode, t.sessions, t.cost_high, t.cost).where(t.sessions != 0)
    if filters.since:
        query = query.where(t.day >= filters.since)
    if filters.until:
        query = query.where(t.day <= filters.until)
    for name, value in filters.dims.items():
        query = query.where(t[name] == value)
    # Read once per transaction: a page asks for the counts and the modes' costs of one range, and its
    # listing for the count again (store/transaction_memo.py).
    return remembered(connection, "session_starts", repr(filters), lambda: list(connection.execute(query)))


def kept_modes(connection: Connection, filters: Filters) -> dict[str | None, tuple[int, int]] | None:
    """mode (None for none) → (sessions, their cost in nano-dollars) of the sessions with events the filters
    select, from session_starts; None as for kept_counts."""
    rows = _kept_rows(connection, filters)
    if rows is None:
        return None
    out: dict[str | None, tuple[int, int]] = {}
    for _day, _tier, mode, n, high, low in rows:
        had = out.get(mode or None, (0, 0))
        out[mode or None] = (had[0] + int(n), had[1] + join(high, low))
    return out


def kept_counts(connection: Connection, filters: Filters) -> dict[tuple[Any, ...], int] | None:
    """(day, tier, mode) → sessions with events started that day (tier and mode None for none) among those
    the filters select, from session_starts; None when the filters select by more than the day a session
    started, its tier and its mode (then only the sessions can answer)."""
    rows = _kept_rows(connection, filters)
    if rows is None:
        return None
    return {(day, tier or None, mode or None): int(n) for day, tier, mode, n, _high, _low in rows}


__all__ = [
    "Moved", "Placed", "Prior", "Transition", "kept_counts", "kept_modes", "moved", "prior", "rebuild_starts",
    "recounted", "recounted_nanos", "transitions",
]  # fmt: skip
