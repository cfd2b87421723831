"""The margins' at-limit table from the kept cost bands (store/plan_ranks.py) where they can answer it
exactly, instead of every session of the range read and ranked (at_limit.at_limit_table): the
overview's plans card reads a row per day, tier, mode and band and a band's sessions per plan and rank.

The bands know a session's tier, mode and cost, so they answer when each session's plan is its tier's
and its measured cost is its stored cost plus one extra cost for all it is measured with, which holds
when, for the range:
- no `[[subscriptions]]` entry is in force in any of its months (a subscription moves a user's sessions
  to another plan than their tier's);
- no payment event belongs to a session started in it (at_limit takes payments out of a session's
  cost; the bands hold it whole);
- every mode a plan's sessions are measured in has the same `extra_cost_usd` (a shift of each mode's
  costs by its own extra would interleave them).
Otherwise, or on PostgreSQL (plan_ranks), None: the caller ranks the sessions as before.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Connection

from ..config import Config
from ..money import from_nanos
from ..pricing import Catalog
from ..store.plan_ranks import kept_values, payments_in_sessions, tier_ranks, unpriced_sessions, users_by_tier
from .at_limit import AtLimitRow, Measured, all_in_modes, limit_row, own_label, quota_of, rank_of, whole_nanos
from .figures import PAYMENT_SERVICE, month_bounds, month_of
from .plans import PlanBook


def _subscribed(config: Config, since: dt.date, until: dt.date) -> bool:
    """Whether a subscription is in force in any month of [since, until] (PlanBook.subscribed's months)."""
    first, last = month_bounds(month_of(since))[0], month_bounds(month_of(until))[1]
    return any(s.since <= last and (s.until is None or s.until >= first) for s in config.subscriptions)


def kept_at_limit(
    connection: Connection, config: Config, catalog: Catalog, since: dt.date, until: dt.date
) -> list[AtLimitRow] | None:
    """at_limit_table's rows for the sessions started in [since, until], from the bands; None when they
    cannot answer it (see the module's docstring)."""
    if connection.dialect.name != "sqlite" or _subscribed(config, since, until):
        return None
    if payments_in_sessions(connection, since, PAYMENT_SERVICE):
        return None
    extra = {st.mode: st.extra_cost_usd for st in config.session_types}
    # As at_limit._session_costs ranks them: whole nano-dollars while every extra cost is one, else Decimals.
    integral = whole_nanos(extra)
    unpriced = unpriced_sessions(connection, since, until)
    present = kept_values(connection, since, until, "mode")
    book = PlanBook(config.plans, config.subscriptions)
    at = dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC)
    # The users counted as a plan's subscribers: those of its sessions started in the month of `until`.
    month_start = max(since, month_bounds(month_of(until))[0])
    users = users_by_tier(connection, month_start, until)
    rows = []
    for plan in config.plans:
        tiers = [tier for tier, name in book.by_tier.items() if name == plan.name]
        modes = [m for m in present if not plan.modes or m in plan.modes]
        measured_on = own_label(plan)
        # A plan without a quota has no margin at its limit (limit_row): its sessions counted, not ranked.
        ranks = _ranks if quota_of(plan) is not None else _none
        found = tier_ranks(connection, since, until, tiers, modes, unpriced, ranks)
        if found is None:
            return None
        if found[0] == 0 and plan.modes:  # none of its own in its modes: every session in them
            every = kept_values(connection, since, until, "tier")
            found = tier_ranks(connection, since, until, every, modes, unpriced, ranks)
            if found is None:
                return None
            measured_on = all_in_modes(plan)
        shifts = {extra.get(m, Decimal(0)) for m in modes}
        if len(shifts) > 1:
            return None
        shift = shifts.pop() if shifts else Decimal(0)
        _, priced, costs = found

        def cost(nanos: int, shift: Decimal = shift) -> Decimal:
            if integral:
                return from_nanos(nanos + int(shift.scaleb(9))) or Decimal(0)
            return (from_nanos(nanos) or Decimal(0)) + shift

        p50, p90 = (cost(costs[0]), cost(costs[1])) if costs else (None, None)
        subscribers = sum(users.get(tier, 0) for tier in tiers)
        rows.append(limit_row(plan, catalog, at, Measured(priced, p50, p90, measured_on, subscribers)))
    return rows


def _ranks(n: int) -> list[int]:
    return [rank_of(n, 50), rank_of(n, 90)] if n else []


def _none(n: int) -> list[int]:
    return []


__all__ = ["kept_at_limit"]
