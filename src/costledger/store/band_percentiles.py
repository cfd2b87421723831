"""A range's exact nearest-rank percentiles of session cost by mode, from session_bands (store/session_bands.py):
the bands' counts of the range added up in order to find the band that holds each rank, then that band's
sessions of the range read in cost order through ix_sessions_mode_cost, up to the rank."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from ..money import SPLIT, join
from .schema import session_bands, sessions
from .session_bands import within
from .sessions_query import session_conditions
from .sums import DOLLAR
from .types import Filters

# Per mode (None for none) of a range: its sessions' count, and their costs at the given ranks.
Ranked = dict[str | None, tuple[int, list[int]]]


def kept_ranks(connection: Connection, filters: Filters, ranks: Any) -> Ranked | None:
    """Per mode of the sessions with events the filters select: how many there are, and the costs (in
    nano-dollars) at the nearest ranks `ranks(n)` gives (1-based, ascending), from session_bands and one
    read of a band's sessions per rank; None when the filters select by more than the day and the mode.

    In the connection's transaction, which on SQLite keeps one snapshot for every statement. PostgreSQL
    reads under read committed, where a writer's commit between the counts and a band's read could move a
    rank: postgres_kept asks the same in one statement."""
    if not filters.by_start_and("mode"):  # the bands are kept per day and mode
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
        costs = at_ranks(connection, [which, sessions.c.events > 0, *in_range], found, ranks(total))
        if costs is None:
            return None
        out[mode or None] = (total, costs)
    return out


def at_ranks(
    connection: Connection, chosen: list[Any], found: list[tuple[int, int]], ranks: Iterable[int]
) -> list[int] | None:
    """The costs (nano-dollars) at these 1-based ranks of the sessions `chosen` selects, counted per band
    in band order in `found`: each rank's band, then that band's sessions in cost order up to it. None
    when a band holds fewer of them than it counts (the table disagrees with the sessions)."""
    costs = []
    for rank in ranks:
        at, below = holding(found, rank)
        pick = (
            select(sessions.c.cost_high, sessions.c.cost)
            .where(*chosen, *within(at))
            .order_by(sessions.c.cost_high, sessions.c.cost)
            .limit(1)
            .offset(rank - below - 1)
        )
        picked = connection.execute(pick).first()
        if picked is None:
            return None
        costs.append(join(picked[0], picked[1]))
    return costs


def holding(found: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The band that holds the `rank`-th cost (1-based) of bands counted in band order, and how many
    sessions the bands below it hold."""
    below = 0
    for at, n in found:
        if below + n >= rank:
            return at, below
        below += n
    raise ValueError(f"rank {rank} of {below} sessions")


# kept_ranks and the kept counts of session_starts as one statement, for PostgreSQL: under read committed
# each statement sees the commits made before it starts, so the counts, the band each rank falls in and
# that band's sessions are read in one (as SQLite's read transaction keeps one snapshot for all of its
# statements). The nearest ranks of p50 and p90 (ceil(n/2), ceil(9n/10)); each band's bounds as (high,
# low) pairs, compared as rows so that ix_sessions_mode_cost orders and bounds the read; 0 and the
# sessions' mode written out so that the partial index applies (none is '' in the kept tables). The start
# is compared as `started_at + interval '0'`, which no index matches: else PostgreSQL ANDed the band's
# entries with every session of the range from ix_sessions_started (174,000 a read at 1M, 119 against 44 ms).
_POSTGRES = """
WITH counts AS (
    SELECT mode, band, sum(sessions)::bigint AS n FROM session_bands
    WHERE day >= coalesce(%(since)s::date, '-infinity'::date) AND day <= coalesce(%(until)s::date, 'infinity'::date)
      AND (%(mode)s::varchar IS NULL OR mode = %(mode)s::varchar)
    GROUP BY mode, band HAVING sum(sessions) > 0
), cumulative AS (
    SELECT mode, band, n, sum(n) OVER (PARTITION BY mode ORDER BY band)::bigint AS upto,
           sum(n) OVER (PARTITION BY mode)::bigint AS total
    FROM counts
), ranks AS (
    SELECT m.mode, m.total, k.i, CASE k.i WHEN 0 THEN (m.total + 1) / 2 ELSE (9 * m.total + 9) / 10 END AS r
    FROM (SELECT DISTINCT mode, total FROM cumulative) AS m CROSS JOIN (VALUES (0), (1)) AS k(i)
), picks AS (
    SELECT r.mode, r.total, r.i, r.r - (c.upto - c.n) - 1 AS skip, c.band,
           CASE WHEN c.band < 100 THEN 0 ELSE power(10::numeric, c.band / 100 - 2)::bigint END AS unit
    FROM ranks AS r JOIN cumulative AS c ON c.mode = r.mode AND c.upto >= r.r AND c.upto - c.n < r.r
), bounds AS (
    SELECT mode, total, i, skip,
           CASE band WHEN -1 THEN -9223372036854775807 WHEN 9999 THEN 1 ELSE 0 END AS lo_high,
           CASE WHEN band = -1 OR band = 9999 THEN 0 WHEN band < 100 THEN band ELSE band %% 100 * unit END AS lo,
           CASE band WHEN -1 THEN 0 WHEN 9999 THEN 9223372036854775807 ELSE 0 END AS hi_high,
           CASE WHEN band = -1 OR band = 9999 THEN 0 WHEN band < 100 THEN band + 1
                ELSE (band %% 100 + 1) * unit END AS hi
    FROM picks
), starts AS (
    SELECT mode, sum(sessions)::bigint AS n, sum(cost_high) AS high, sum(cost / 1000000000) AS dollars,
           sum(cost %% 1000000000) AS nanos
    FROM session_starts
    WHERE day >= coalesce(%(since)s::date, '-infinity'::date) AND day <= coalesce(%(until)s::date, 'infinity'::date)
      AND (%(mode)s::varchar IS NULL OR mode = %(mode)s::varchar)
    GROUP BY mode HAVING sum(sessions) <> 0
)
SELECT 'band', b.mode, b.total, b.i, CASE WHEN b.mode = '' THEN (
    SELECT s.cost_high::numeric * 1000000000000000000 + s.cost FROM sessions AS s
    WHERE s.mode IS NULL AND s.events > 0
      AND s.started_at + interval '0' >= coalesce(%(start)s::timestamp, '-infinity')
      AND s.started_at + interval '0' < coalesce(%(end)s::timestamp, 'infinity')
      AND (s.cost_high, s.cost) >= (b.lo_high, b.lo) AND (s.cost_high, s.cost) < (b.hi_high, b.hi)
    ORDER BY s.cost_high, s.cost LIMIT 1 OFFSET b.skip
) ELSE (
    SELECT s.cost_high::numeric * 1000000000000000000 + s.cost FROM sessions AS s
    WHERE s.mode = b.mode AND s.events > 0
      AND s.started_at + interval '0' >= coalesce(%(start)s::timestamp, '-infinity')
      AND s.started_at + interval '0' < coalesce(%(end)s::timestamp, 'infinity')
      AND (s.cost_high, s.cost) >= (b.lo_high, b.lo) AND (s.cost_high, s.cost) < (b.hi_high, b.hi)
    ORDER BY s.cost_high, s.cost LIMIT 1 OFFSET b.skip
) END, NULL, NULL, NULL
FROM bounds AS b
UNION ALL
SELECT 'start', mode, n, NULL, NULL, high, dollars, nanos FROM starts
"""
# What the statement answers per mode (None for none): the bands' count, the costs at p50 and p90, and
# session_starts' count and cost (nano-dollars).
Kept = dict[str | None, tuple[int, list[int], int, int]]


def postgres_kept(connection: Connection, filters: Filters) -> Kept | None:
    """kept_ranks at p50 and p90 and session_starts' count and cost per mode, in one statement (PostgreSQL);
    None as for kept_ranks, and when a rank's band holds fewer sessions than it counts."""
    if not filters.by_start_and("mode"):  # the bands are kept per day and mode
        return None
    since, until = filters.since, filters.until if filters.until and filters.until < dt.date.max else None
    params = {"since": since, "until": until, "mode": filters.dims.get("mode"),
              "start": dt.datetime.combine(since, dt.time()) if since else None,
              "end": dt.datetime.combine(until + dt.timedelta(days=1), dt.time()) if until else None}  # fmt: skip
    found: dict[str, list[Any]] = {}
    for kind, mode, n, i, picked, high, dollars, nanos in connection.exec_driver_sql(_POSTGRES, params):
        at = found.setdefault(mode, [0, [None, None], 0, 0])
        if kind == "band":
            if picked is None:
                return None
            at[0], at[1][i] = int(n), int(picked)
        else:
            at[2], at[3] = int(n), int(high or 0) * SPLIT + int(dollars or 0) * DOLLAR + int(nanos or 0)
    return {mode or None: (n, picks, started, cost) for mode, (n, picks, started, cost) in found.items()}


__all__ = ["Kept", "Ranked", "at_ranks", "holding", "kept_ranks", "postgres_kept"]
