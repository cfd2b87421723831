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
# Rollup buckets: (day, *DIMENSIONS) -> (events, unpriced, nano-dollars).
Buckets = Mapping[tuple[Any, ...], Sequence[int]]


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
_USER = 1 + DIMENSIONS.index("user_id")
_AT = tuple((d, 1 + DIMENSIONS.index(d)) for d in KEPT if d != "user_id")
_PAIRS_AT = tuple((pair_name(p), 1 + DIMENSIONS.index(p[0]), 1 + DIMENSIONS.index(p[1])) for p in PAIRS)
_PAIR_AT = tuple(at for at in _PAIRS_AT if _USER not in at[1:])
_USER_PAIR_AT = tuple(at for at in _PAIRS_AT if _USER in at[1:])


def add_into(into: dict[Any, list[int]], key: Any, counts: Sequence[int]) -> None:
    """Add (events, unpriced, nano-dollars) to the counts kept under key."""
    found = into.get(key)
    if found is None:
        into[key] = list(counts)
    else:
        found[0] += counts[0]
        found[1] += counts[1]
        found[2] += counts[2]


# Buckets are keyed by user as well, and a day holds many users for each of its few (service, model,
# agent, tier, mode): every total but the user's is summed from the buckets with the user left out
# (a third as many at the demo's spread, fewer still with thousands of users), the user's from all.
def _without_user(buckets: Buckets) -> dict[tuple[Any, ...], list[int]]:
    """The buckets added up over their users (the user's slot of each key left empty)."""
    u = _USER
    out: dict[tuple[Any, ...], list[int]] = {}
    for key, counts in buckets.items():
        add_into(out, (*key[:u], "", *key[u + 1 :]), counts)
    return out


def period_sums(buckets: Buckets, merged: Buckets | None = None) -> dict[Key, list[int]]:
    """The period totals that rollup buckets add up to: per day and month, overall ('', '') and per
    value of each KEPT dimension (a bucket without that dimension counts in the overall row only).
    `merged`: the buckets' _without_user, where the caller has it.

    Summed per day first and then per month from the days: a batch has far fewer buckets than
    events, and far fewer day totals than buckets.
    """
    days: dict[tuple[Any, str, Any], list[int]] = {}
    for key, counts in buckets.items():
        if key[_USER]:
            add_into(days, (key[0], "user_id", key[_USER]), counts)
    for key, counts in (_without_user(buckets) if merged is None else merged).items():
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


def _pair_days(into: dict[Any, list[int]], buckets: Buckets, pairs: Any) -> None:
    # The adds written out: this runs over every batch, a few thousand times each.
    for key, (events, unpriced, cost) in buckets.items():
        day = key[0]
        for name, at_a, at_b in pairs:
            at = (name, day, key[at_a] or "", key[at_b] or "")
            found = into.get(at)
            if found is None:
                into[at] = [events, unpriced, cost]
            else:
                found[0] += events
                found[1] += unpriced
                found[2] += cost


def pair_sums(buckets: Buckets, merged: Buckets | None = None) -> dict[PairKey, list[int]]:
    """The pair totals that rollup buckets add up to, per day and month; a missing value is ''.
    `merged`: the buckets' _without_user, where the caller has it."""
    days: dict[tuple[str, Any, str, str], list[int]] = {}
    _pair_days(days, buckets, _USER_PAIR_AT)
    _pair_days(days, _without_user(buckets) if merged is None else merged, _PAIR_AT)
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


def both_sums(buckets: Buckets) -> tuple[dict[Key, list[int]], dict[PairKey, list[int]]]:
    """period_sums and pair_sums of the same buckets, their users added up once."""
    merged = _without_user(buckets)
    return period_sums(buckets, merged), pair_sums(buckets, merged)


def count_periods(connection: Connection, buckets: Buckets) -> set[Key]:
    """Count rollup buckets (signed) into the period totals and pair totals; returns the period-total
    keys it touched (what alert rules and budgets look at).

    Written as the rollups are (one statement per table over the batch), without reading back.
    """
    if not buckets:
        return set()
    sums, pairs = both_sums(buckets)
    # Sorted: concurrent PostgreSQL writers take row locks in one order and never deadlock.
    add_counts(connection, period_totals, ("period", "dimension", "value"),
               [(*key, *counts) for key, counts in sorted(sums.items())])  # fmt: skip
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
    "KEPT", "PAIRS", "add_into", "both_sums", "count_periods", "pair_name", "pair_of", "pair_sums", "period_sums",
    "rebuild_periods",
]  # fmt: skip
