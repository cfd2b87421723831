"""A range's exact nearest-rank percentiles of session cost by mode, from session_bands (store/session_bands.py):
the bands' counts of the range added up in order to find the band that holds each rank, then that band's
sessions of the range read in cost order through ix_sessions_mode_cost, up to the rank."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from ..money import SPLIT
from .schema import session_bands, sessions
from .session_bands import within
from .sessions_query import session_conditions
from .types import Filters

# Per mode (None for none) of a range: its sessions' count, and their costs at the given ranks.
Ranked = dict[str | None, tuple[int, list[int]]]


def _eligible(filters: Filters) -> bool:
    """The bands answer for sessions selected by no more than the day they started and their mode."""
    if filters.tags or filters.min_cost is not None or filters.max_cost is not None or filters.unpriced:
        return False
    return all(name == "mode" and value for name, value in filters.dims.items())


def kept_ranks(connection: Connection, filters: Filters, ranks: Any) -> Ranked | None:
    """Per mode of the sessions with events the filters select: how many there are, and the costs (in
    nano-dollars) at the nearest ranks `ranks(n)` gives (1-based, ascending), from session_bands and one
    read of a band's sessions per rank; None when the filters select by more than the day and the mode.

    In the connection's transaction: on SQLite one snapshot for every statement. On PostgreSQL the caller
    reads in a transaction that keeps one (repeatable read), or a writer's commit between the counts and
    a band's read could move a rank."""
    if not _eligible(filters):
        return None
    t = session_bands.c
    counts = select(t.mode, t.band, func.sum(t.sessions)).group_by(t.mode, t.band).order_by(t.mode, t.band)
    if filters.since:
        counts = counts.where(t.day >= filters.since)
    if filters.until:
        counts = counts.where(t.day <= filters.until)
    if "mode" in filters.dims:
        counts = counts.where(t.mode == filters.dims["mode"])
    by_mode: dict[str, list[tuple[int, int]]] = {}
    for mode, at, n in connection.execute(counts):
        if n > 0:
            by_mode.setdefault(mode, []).append((int(at), int(n)))
    in_range = session_conditions(connection, Filters(since=filters.since, until=filters.until))
    out: Ranked = {}
    for mode, found in by_mode.items():
        total = sum(n for _, n in found)
        which = sessions.c.mode.is_(None) if mode == "" else sessions.c.mode == mode
        costs = []
        for rank in ranks(total):
            at, below = _holding(found, rank)
            pick = (
                select(sessions.c.cost_high, sessions.c.cost)
                .where(which, sessions.c.events > 0, *in_range, *within(at))
                .order_by(sessions.c.cost_high, sessions.c.cost)
                .limit(1)
                .offset(rank - below - 1)
                # Not ix_sessions_started (every session of the range), which SQLite may otherwise choose.
                .with_hint(sessions, "INDEXED BY ix_sessions_mode_cost", "sqlite")
            )
            picked = connection.execute(pick).first()
            if picked is None:  # the band holds fewer sessions than it counts: the table disagrees
                return None
            costs.append(int(picked[0]) * SPLIT + int(picked[1]))
        out[mode or None] = (total, costs)
    return out


def _holding(found: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The band that holds the `rank`-th cost (1-based) of bands counted in band order, and how many
    sessions the bands below it hold."""
    below = 0
    for at, n in found:
        if below + n >= rank:
            return at, below
        below += n
    raise ValueError(f"rank {rank} of {below} sessions")


__all__ = ["Ranked", "kept_ranks"]
