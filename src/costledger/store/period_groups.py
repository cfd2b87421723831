"""Counting a batch into the per-period aggregates: the single-dimension period totals (overall and
per service, model, agent, user, tier, mode) and the pair totals (PAIRS), per day and per month.

They are summed from the rollup buckets the writer counted (writer.add_to_rollups returns them,
signed), in the same transaction as the events: Store.write counts every batch, and a repricing
counts what it takes out of and puts back into the rollups. So a read from them equals a read
from the rollups, which equals a recount from the events (`db check` proves both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from .alerts_schema import period_totals
from .schema import DIMENSIONS, period_pairs, rollup_daily
from .sums import summed, table_sum
from .writer import add_counts

# The dimensions the period totals are kept per (all of the rollups'); '' = everything.
KEPT = DIMENSIONS
# The pairs of dimensions kept together: the service with each other dimension but the user, model,
# tier and mode with each other, and user × tier (a user has one tier: a row per user). Each pair
# costs rows at every write (a batch of a day adds its day's and its month's distinct pairs): the
# agent's pairs but service × agent (dozens of agents × models, tiers, modes) would triple the rows
# a batch upserts, and the user's others (× agent, model, service, mode) come near a row per event.
# A total grouped or filtered by a pair not kept reads the rollups of its range.
PAIRS: tuple[tuple[str, str], ...] = (
    ("service", "model"), ("service", "agent"), ("service", "tier"), ("service", "mode"),
    ("model", "tier"), ("model", "mode"),
    ("tier", "mode"),
    ("user_id", "tier"),
)  # fmt: skip

Key = tuple[str, str, str]  # period, dimension ('' = all), value
PairKey = tuple[str, str, str, str]  # pair ("service,model"), period, a, b ('' = none)


def pair_name(pair: tuple[str, str]) -> str:
    return f"{pair[0]},{pair[1]}"


def pair_of(columns: set[str]) -> tuple[str, str] | None:
    """The kept pair made of exactly these two columns, in its stored order, or None."""
    for pair in PAIRS:
        if set(pair) == columns:
            return pair
    return None


def day_key(day: dt.date) -> str:
    return day.isoformat()


def month_key(day: dt.date) -> str:
    return day.isoformat()[:7]


# Where each dimension sits in a rollup bucket's key (day, *DIMENSIONS).
_AT = tuple((d, 1 + DIMENSIONS.index(d)) for d in KEPT)
_PAIR_AT = tuple((pair_name(p), 1 + DIMENSIONS.index(p[0]), 1 + DIMENSIONS.index(p[1])) for p in PAIRS)


def add_into(into: dict[Any, list[int]], key: Any, counts: Sequence[int]) -> None:
    """Add (events, unpriced, nano-dollars) to the counts kept under key."""
    found = into.get(key)
    if found is None:
        into[key] = list(counts)
    else:
        found[0] += counts[0]
        found[1] += counts[1]
        found[2] += counts[2]


def period_sums(buckets: Mapping[tuple[Any, ...], Sequence[int]]) -> dict[Key, list[int]]:
    """The period totals that rollup buckets add up to: per day and month, overall ('', '') and per
    value of each KEPT dimension (a bucket without that dimension counts in the overall row only).

    Summed per day first and then per month from the days: a batch has far fewer buckets than
    events, and far fewer day totals than buckets.
    """
    days: dict[tuple[Any, str, Any], list[int]] = {}
    for key, counts in buckets.items():
        day = key[0]
        add_into(days, (day, "", ""), counts)
        for dimension, at in _AT:
            if key[at]:
                add_into(days, (day, dimension, key[at]), counts)
    sums: dict[Key, list[int]] = {}
    for (day, dimension, value), counts in days.items():
        add_into(sums, (day_key(day), dimension, value), counts)
        add_into(sums, (month_key(day), dimension, value), counts)
    return sums


def pair_sums(buckets: Mapping[tuple[Any, ...], Sequence[int]]) -> dict[PairKey, list[int]]:
    """The pair totals that rollup buckets add up to, per day and month; a missing value is ''."""
    # The adds written out: this runs over every batch, a few thousand times each.
    days: dict[tuple[str, Any, str, str], list[int]] = {}
    for key, (events, unpriced, cost) in buckets.items():
        day = key[0]
        for name, at_a, at_b in _PAIR_AT:
            at = (name, day, key[at_a] or "", key[at_b] or "")
            found = days.get(at)
            if found is None:
                days[at] = [events, unpriced, cost]
            else:
                found[0] += events
                found[1] += unpriced
                found[2] += cost
    periods: dict[Any, tuple[str, str]] = {}
    sums: dict[PairKey, list[int]] = {}
    for (name, day, a, b), (events, unpriced, cost) in days.items():
        both = periods.get(day)
        if both is None:
            both = periods[day] = (day_key(day), month_key(day))
        for period in both:
            at = (name, period, a, b)
            found = sums.get(at)
            if found is None:
                sums[at] = [events, unpriced, cost]
            else:
                found[0] += events
                found[1] += unpriced
                found[2] += cost
    return sums


def count_periods(connection: Connection, buckets: Mapping[tuple[Any, ...], Sequence[int]]) -> set[Key]:
    """Count rollup buckets (signed) into the period totals and pair totals; returns the period-total
    keys it touched (what alert rules and budgets look at).

    Written as the rollups are (one statement per table over the batch), without reading back.
    """
    if not buckets:
        return set()
    sums = period_sums(buckets)
    # Sorted: concurrent PostgreSQL writers take row locks in one order and never deadlock.
    add_counts(connection, period_totals, ("period", "dimension", "value"),
               [(*key, *counts) for key, counts in sorted(sums.items())])  # fmt: skip
    pairs = pair_sums(buckets)
    add_counts(connection, period_pairs, ("pair", "period", "a", "b"),
               [(*key, *counts) for key, counts in sorted(pairs.items())])  # fmt: skip
    return set(sums)


def rebuild_periods(connection: Connection) -> None:
    """Recount the period totals and pair totals from the daily rollups, replacing what they hold.

    For stores filled in bulk (INSERT … SELECT into the events and rollups, as a benchmark does),
    which bypass Store.write: grouped in the database a dimension or pair at a time, with the money
    summed in halves (store/sums.py), the days added up into months here.
    """
    r = rollup_daily
    connection.execute(period_totals.delete())
    connection.execute(period_pairs.delete())
    totals: dict[Key, list[int]] = {}
    for dimension in ("", *KEPT):
        keys = [r.c[dimension]] if dimension else []
        where = [r.c[dimension] != ""] if dimension else []
        for day, values, counts in _grouped(connection, keys, where):
            for period in (day_key(day), month_key(day)):
                add_into(totals, (period, dimension, values[0] if values else ""), counts)
    add_counts(connection, period_totals, ("period", "dimension", "value"),
               [(*key, *counts) for key, counts in sorted(totals.items())])  # fmt: skip
    pairs: dict[PairKey, list[int]] = {}
    for pair in PAIRS:
        for day, (a, b), counts in _grouped(connection, [r.c[pair[0]], r.c[pair[1]]], []):
            for period in (day_key(day), month_key(day)):
                add_into(pairs, (pair_name(pair), period, a, b), counts)
    add_counts(connection, period_pairs, ("pair", "period", "a", "b"),
               [(*key, *counts) for key, counts in sorted(pairs.items())])  # fmt: skip


_Grouped = tuple[dt.date, tuple[str, ...], tuple[int, int, int]]


def _grouped(connection: Connection, keys: list[Any], where: list[Any]) -> Iterator[_Grouped]:
    """(day, values of `keys`, (events, unpriced, nano-dollars)) of the rollups grouped by day and `keys`."""
    r = rollup_daily
    query = select(r.c.day, *keys, func.sum(r.c.events), func.sum(r.c.unpriced), *table_sum(r))
    for row in connection.execute(query.where(*where).group_by(r.c.day, *keys)):
        day = row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(str(row[0]))
        counts = (int(row[1 + len(keys)] or 0), int(row[2 + len(keys)] or 0), summed(row))
        if counts[0] or counts[2]:
            yield day, tuple(str(v or "") for v in row[1 : 1 + len(keys)]), counts


__all__ = [
    "KEPT", "PAIRS", "add_into", "count_periods", "pair_name", "pair_of", "pair_sums", "period_sums", "rebuild_periods",
]  # fmt: skip
