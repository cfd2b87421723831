"""Margin per plan, per user and per month (the margin at each plan's limit: at_limit.py).

Who is on which plan in a month: a `[[subscriptions]]` entry in force that month
wins; otherwise the tier label an event or session carries, mapped through
`Plan.tier`. Fixed monthly costs are split over the month's sessions, each session
an equal share, by largest remainder, so the plans' shares sum exactly to the cost.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from .. import clock
from ..config import Config, FixedCost, Plan, Subscription
from ..money import usd
from ..pricing import Catalog
from ..store import Store
from .arithmetic import Margin, allocate_by
from .at_limit import AtLimitRow, at_limit_table
from .figures import (
    data_range,
    month_bounds,
    month_of,
    months_between,
    payments,
    session_figures,
    usage_costs,
)

NO_PLAN = ""  # usage no plan claims: shown as "(no plan)", still counted in the month's total


class PlanBook:
    """Maps (user, month, tier) to a plan name, from subscriptions and tier labels."""

    def __init__(self, plans: Sequence[Plan], subscriptions: Sequence[Subscription]) -> None:
        self.plans = {plan.name: plan for plan in plans}
        self.by_tier = {plan.tier: plan.name for plan in plans}
        self.subscriptions: dict[str, list[Subscription]] = defaultdict(list)
        for sub in sorted(subscriptions, key=lambda s: s.since):
            self.subscriptions[sub.user_id].append(sub)
        self._plan_of: dict[tuple[str | None, str, str | None], str] = {}

    def subscribed(self, user_id: str | None, month: str) -> str | None:
        subscriptions = self.subscriptions.get(user_id) if user_id is not None else None
        if not subscriptions:  # most users: asked for every session and month, answered at once
            return None
        first, last = month_bounds(month)
        found = None
        for sub in subscriptions:
            if sub.since <= last and (sub.until is None or sub.until >= first):
                found = sub.plan  # the latest-starting subscription of the month wins
        return found

    def plan_of(self, user_id: str | None, month: str, tier: str | None) -> str:
        # Asked once per session per plan by the at-limit table: remembered per (user, month, tier).
        key = (user_id, month, tier)
        found = self._plan_of.get(key)
        if found is None:
            found = self._plan_of[key] = self.subscribed(user_id, month) or self.by_tier.get(tier or "", NO_PLAN)
        return found

    def subscribers(self, month: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for user_id in self.subscriptions:
            plan = self.subscribed(user_id, month)
            if plan:
                out[plan].add(user_id)
        return out


def fixed_cost_of(month: str, fixed_costs: Iterable[FixedCost]) -> Decimal:
    """Monthly fixed costs in force on any day of `month` (a whole month each: vendors bill by the month)."""
    first, last = month_bounds(month)
    return sum(
        (f.monthly_usd for f in fixed_costs if f.since <= last and (f.until is None or f.until >= first)),
        start=Decimal(0),
    )


@dataclass
class PlanMonth:
    month: str
    plan: str
    margin: Margin = field(default_factory=Margin)
    users: set[str] = field(default_factory=set)
    sessions: int = 0
    unpriced: int = 0
    # Net revenue in each currency customers paid in: currency → (in that currency, in USD).
    currencies: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def paid(self, currency: str, original: Decimal, in_usd: Decimal) -> None:
        before = self.currencies.get(currency, (Decimal(0), Decimal(0)))
        self.currencies[currency] = (before[0] + original, before[1] + in_usd)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "plan": self.plan or None,
            "users": len(self.users),
            "sessions": self.sessions,
            "unpriced_events": self.unpriced,
            **self.margin.as_dict(),
            "currencies": [
                {"currency": currency, "revenue": usd(original), "revenue_usd": usd(in_usd)}
                for currency, (original, in_usd) in sorted(self.currencies.items())
            ],
        }


@dataclass
class MarginReport:
    since: dt.date
    until: dt.date
    months: list[str]
    plans: list[PlanMonth]  # per month × plan
    users: dict[tuple[str, str, str], Margin]  # (month, plan, user) → margin
    unallocated_fixed: dict[str, Decimal]  # month → fixed cost no session could carry
    at_limit: list[AtLimitRow]
    unpriced_payments: int = 0

    def total(self, month: str | None = None) -> Margin:
        return sum((p.margin for p in self.plans if month is None or p.month == month), start=Margin()) + Margin(
            fixed_cost=sum((v for m, v in self.unallocated_fixed.items() if month in (None, m)), Decimal(0))
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "months": [
                {
                    "month": month,
                    "plans": [p.as_dict() for p in self.plans if p.month == month],
                    "unallocated_fixed_usd": usd(self.unallocated_fixed.get(month, Decimal(0))),
                    "total": self.total(month).as_dict(),
                }
                for month in self.months
            ],
            "users": [
                {"month": month, "plan": plan or None, "user_id": user or None, **margin.as_dict()}
                for (month, plan, user), margin in sorted(self.users.items())
            ],
            "at_limit": [row.as_dict() for row in self.at_limit],
            "unpriced_payments": self.unpriced_payments,
            "assumptions": ASSUMPTIONS,
        }


ASSUMPTIONS = [
    "revenue is what payment events (service stripe, amount_usd) record, in USD at Stripe's conversion; a refund"
    " (operation refund) or a dispute is negative revenue and Stripe keeps the original fee",
    "fees are Stripe's own where the payment reported them (webhooks with the balance transaction), else the"
    " catalog's estimate: fees_actual_usd and fees_estimated_usd say which",
    "fixed monthly costs count in full in every month they are in force, split equally over that month's sessions",
    "margin at limit: every subscriber uses the whole quota at the p50 / p90 cost per session measured on the"
    " plan's sessions (their modes), plus the session type's extra cost and the payment fee; fixed costs excluded",
]


_FIELDS = tuple(f.name for f in fields(Margin))
_WIDTH = len(_FIELDS)
_VARIABLE, _EXTRA, _FIXED = (_FIELDS.index(name) for name in ("variable_cost", "extra_cost", "fixed_cost"))
_ZERO = Decimal(0)


def margin_report(
    store: Store,
    config: Config,
    catalog: Catalog,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> MarginReport:
    """Margins for every month in [since, until] (default: all data)."""
    if since is None or until is None:
        found = data_range(store)
        today = clock.today()
        since = since or (found[0] if found else today.replace(day=1))
        until = until or (found[1] if found else today)
    months = months_between(since, until)
    book = PlanBook(config.plans, config.subscriptions)
    extra = {st.mode: st.extra_cost_usd for st in config.session_types}
    cells: dict[tuple[str, str], PlanMonth] = {}
    # Margins summed as lists of their fields (Margin's order), made Margins once at the end: adding
    # frozen Margins was most of the report's time at a few thousand users.
    cell_sums: dict[tuple[str, str], list[Decimal]] = {}
    user_sums: dict[tuple[str, str, str], list[Decimal]] = {}

    def cell(month: str, plan: str) -> PlanMonth:
        if (month, plan) not in cells:
            cells[(month, plan)] = PlanMonth(month, plan)
        return cells[(month, plan)]

    def sums_of(month: str, plan: str, user: str | None) -> tuple[list[Decimal], list[Decimal]]:
        """The plan's and the user's sums in that month (the user counted among the plan's)."""
        c = cell(month, plan)
        plan_sums = cell_sums.get((month, plan))
        if plan_sums is None:
            plan_sums = cell_sums[(month, plan)] = [_ZERO] * _WIDTH
        if user:
            c.users.add(user)
        key = (month, plan, user or "")
        user_sum = user_sums.get(key)
        if user_sum is None:
            user_sum = user_sums[key] = [_ZERO] * _WIDTH
        return plan_sums, user_sum

    def add(month: str, plan: str, user: str | None, at: int, amount: Decimal) -> None:
        plan_sums, user_sum = sums_of(month, plan, user)
        plan_sums[at] += amount
        user_sum[at] += amount

    def add_margin(month: str, plan: str, user: str | None, part: Margin) -> None:
        plan_sums, user_sum = sums_of(month, plan, user)  # once for all the fields of a payment
        for at, name in enumerate(_FIELDS):
            amount = getattr(part, name)
            plan_sums[at] += amount
            user_sum[at] += amount

    unpriced_payments = 0
    with store.engine.connect() as connection:
        paid = payments(connection, since, until)
        held = session_figures(connection, since, until)
    for p in paid:
        month = month_of(p.ts)
        if p.fee is None:
            unpriced_payments += 1
        plan = book.plan_of(p.user_id, month, p.tier)
        add_margin(month, plan, p.user_id, p.margin())
        cell(month, plan).paid(p.currency, p.original, p.revenue)
    for u in usage_costs(store, since, until, paid):
        plan = book.plan_of(u.user_id, u.month, u.tier)
        add(u.month, plan, u.user_id, _VARIABLE, u.cost)
        cell(u.month, plan).unpriced += u.unpriced
    for month in months:
        for plan, subscribed in book.subscribers(month).items():
            cell(month, plan).users.update(subscribed)

    sessions_by_key: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for (month, user, tier, mode), n in held.counts.items():
        plan = book.plan_of(user, month, tier)
        cell(month, plan).sessions += n
        sessions_by_key[month][(plan, user or "")] += n
        add(month, plan, user, _EXTRA, extra.get(mode or "", _ZERO) * n)

    unallocated: dict[str, Decimal] = {}
    for month in months:
        fixed = fixed_cost_of(month, config.fixed_costs)
        weights = sessions_by_key.get(month, {})
        if not weights:
            if fixed:
                unallocated[month] = fixed
            continue
        for (plan, user), share in allocate_by(fixed, dict(sorted(weights.items()))).items():
            add(month, plan, user or None, _FIXED, share)
    for key, sums in cell_sums.items():
        cells[key].margin = Margin(*sums)

    return MarginReport(
        since=since,
        until=until,
        months=months,
        plans=sorted(cells.values(), key=lambda c: (c.month, c.plan == NO_PLAN, c.plan)),
        users={key: Margin(*sums) for key, sums in user_sums.items()},
        unallocated_fixed=unallocated,
        at_limit=at_limit_table(config, catalog, book, held, months[-1] if months else month_of(until), until),
        unpriced_payments=unpriced_payments,
    )


__all__ = ["ASSUMPTIONS", "MarginReport", "PlanBook", "PlanMonth", "fixed_cost_of", "margin_report"]
