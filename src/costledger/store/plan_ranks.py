"""The priced sessions of some tiers and modes in a range, at given ranks of their cost, from the kept cost
bands (session_bands, per day, tier, mode and band) and one band's sessions per rank: a plan's p50 and
p90 session cost at its limit (margins/kept_limits.py) without every session of the range read.

The sessions with unpriced events (not measured) are read apart and taken out of their bands (few, as
unpriced usage is an error the dashboard shows). SQLite only: its read transaction keeps one snapshot
for every statement, so the counts and the band's sessions agree. Under PostgreSQL's read committed a
commit between them could move a rank; there the callers rank every session as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal, literal_column, or_, select

from ..money import join
from .band_percentiles import at_ranks
from .ranges import started_in
from .schema import events, session_bands, sessions
from .session_bands import band
from .types import Filters


def _one_of(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """`column` is one of `values`, '' standing for none (NULL or '', as the kept tables write both)."""
    named = [v for v in values if v]
    conditions: list[ColumnElement[bool]] = [column.in_(named)] if named else []
    if "" in values:
        conditions += [column.is_(None), column == ""]
    return or_(*conditions) if conditions else literal(False)


def kept_values(connection: Connection, since: dt.date, until: dt.date, name: str) -> list[str]:
    """The tiers or modes (`name`; '' for none) of the sessions with events started in [since, until],
    from the bands."""
    t = session_bands.c
    query = select(t[name]).where(t.day >= since, t.day <= until, t.sessions > 0).distinct()
    return sorted(connection.execute(query).scalars())


def unpriced_sessions(connection: Connection, since: dt.date, until: dt.date) -> list[tuple[str, str, int]]:
    """The (tier, mode, band) of each session with events and unpriced events started in [since, until]
    ('' for none), through ix_sessions_unpriced. However many they are, this reads less than ranking
    every session of the range."""
    s = sessions.c
    # 0 written out: SQLite takes the partial index only when the query states its condition itself.
    query = select(s.tier, s.mode, s.cost_high, s.cost).where(
        s.unpriced > literal_column("0"), s.events > 0, *started_in(Filters(since=since, until=until))
    )
    return [(tier or "", mode or "", band(join(high, low))) for tier, mode, high, low in
            connection.execute(query)]  # fmt: skip


def tier_ranks(
    connection: Connection,
    since: dt.date,
    until: dt.date,
    tiers: Sequence[str],
    modes: Sequence[str],
    unpriced: Sequence[tuple[str, str, int]],
    ranks: Callable[[int], Sequence[int]],
) -> tuple[int, int, list[int]] | None:
    """For the sessions with events started in [since, until] whose tier and mode ('' for none) are among
    `tiers` and `modes`: how many there are, how many of them have no unpriced event, and those priced
    ones' costs in nano-dollars at the 1-based ranks `ranks(priced)` gives, ascending. `unpriced` is what
    unpriced_sessions() found for the range.

    None on PostgreSQL, or when the bands do not hold what the sessions do."""
    if connection.dialect.name != "sqlite":
        return None
    if not tiers or not modes:
        return 0, 0, []
    t, s = session_bands.c, sessions.c
    counts = (
        select(t.band, func.sum(t.sessions))
        .where(t.day >= since, t.day <= until, t.tier.in_(list(tiers)), t.mode.in_(list(modes)))
        .group_by(t.band)
    )
    by_band = {int(at): int(n) for at, n in connection.execute(counts)}
    every = sum(by_band.values())
    # The sessions with unpriced events are not measured: taken out of their bands.
    for tier, mode, at in unpriced:
        if tier in tiers and mode in modes:
            by_band[at] = by_band.get(at, 0) - 1
    if any(n < 0 for n in by_band.values()):
        return None
    found = sorted((at, n) for at, n in by_band.items() if n > 0)
    priced = sum(n for _, n in found)
    chosen = [
        s.events > 0,
        s.unpriced == 0,
        *started_in(Filters(since=since, until=until)),
        _one_of(s.tier, tiers),
        _one_of(s.mode, modes),
    ]
    costs = at_ranks(connection, chosen, found, ranks(priced))
    return None if costs is None else (every, priced, costs)


def users_by_tier(connection: Connection, since: dt.date, until: dt.date) -> dict[str, int]:
    """How many users (not none, not '') have a session with events started in [since, until], per tier
    ('' for none)."""
    s = sessions.c
    tier = func.coalesce(s.tier, literal_column("''"))
    query = (
        select(tier, func.count(s.user_id.distinct()))
        .where(s.events > 0, *started_in(Filters(since=since, until=until)), s.user_id != "")
        .group_by(tier)
    )
    return {name: int(n) for name, n in connection.execute(query)}


def payments_in_sessions(connection: Connection, since: dt.date, service: str) -> bool:
    """Whether any payment event (of `service`) at or after `since` belongs to a session (a session's events
    are never before its start, so these are all the payments of the sessions started since then)."""
    start = dt.datetime.combine(since, dt.time())
    e = events.c
    query = select(literal(1)).where(e.service == service, e.ts >= start, e.session_id.is_not(None))
    return connection.execute(query.limit(1)).first() is not None


__all__ = ["kept_values", "payments_in_sessions", "tier_ranks", "unpriced_sessions", "users_by_tier"]
