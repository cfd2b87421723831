"""The margin at each plan's limit: one subscriber who uses the plan's whole quota, at the p50 and
p90 cost of a session like theirs, against the plan's price less the payment fee.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..config import Config, Plan
from ..errors import UnknownPrice
from ..money import from_nanos, usd
from ..pricing import Catalog
from .arithmetic import AtLimit, flag
from .figures import PAYMENT_SERVICE, SessionFigures, SessionKey

if TYPE_CHECKING:
    from .plans import PlanBook


@dataclass(frozen=True)
class AtLimitRow:
    plan: Plan
    subscribers: int
    measured_sessions: int
    measured_on: str
    fee: Decimal
    p50: AtLimit | None
    p90: AtLimit | None
    flag: str  # negative | thin | ok | no data | no quota

    def as_dict(self) -> dict[str, Any]:
        def side(at: AtLimit | None) -> dict[str, str | None]:
            if at is None:
                return {"cost_per_session_usd": None, "cost_usd": None, "margin_usd": None}
            return {
                "cost_per_session_usd": usd(at.cost_per_session),
                "cost_usd": usd(at.cost),
                "margin_usd": usd(at.margin),
            }

        return {
            "plan": self.plan.name,
            "price_usd": usd(self.plan.price_usd),
            "period": self.plan.period,
            "included_sessions": self.plan.included_sessions,
            "subscribers": self.subscribers,
            "measured_sessions": self.measured_sessions,
            "measured_on": self.measured_on,
            "fee_usd": usd(self.fee),
            "p50": side(self.p50),
            "p90": side(self.p90),
            "flag": self.flag,
        }


def payment_fee(catalog: Catalog, amount: Decimal, at: dt.datetime) -> Decimal:
    """Stripe's fee on a charge of `amount` (nothing is charged for a free plan)."""
    if amount <= 0:
        return Decimal(0)
    try:
        return catalog.price(PAYMENT_SERVICE, None, {"amount_usd": amount}, at).total
    except UnknownPrice:
        return Decimal(0)


def at_limit_table(
    config: Config,
    catalog: Catalog,
    book: PlanBook,
    held: SessionFigures,
    month: str,
    until: dt.date,
) -> list[AtLimitRow]:
    """For each plan: the margin of one subscriber who uses the whole quota, at p50 and p90 session cost."""
    extra = {st.mode: st.extra_cost_usd for st in config.session_types}
    at = dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC)
    subscribers = book.subscribers(month)
    active: dict[str, set[str]] = defaultdict(set)
    # Each (month, user, tier, mode)'s plan, found once (not once per session or per plan).
    by_plan: dict[str, list[SessionKey]] = defaultdict(list)
    for key in held.counts:
        on, user, tier, _mode = key
        plan_name = book.plan_of(user, on, tier)
        by_plan[plan_name].append(key)
        if on == month and user:  # the same question as above: its answer, not asked again
            active[plan_name].add(user)
    rows = []
    for plan in config.plans:

        def in_modes(key: SessionKey, plan: Plan = plan) -> bool:
            return not plan.modes or (key[3] or "") in plan.modes

        own = [k for k in by_plan.get(plan.name, ()) if in_modes(k)]
        measured_on = own_label(plan)
        if not own and plan.modes:
            own = [k for k in held.counts if in_modes(k)]
            measured_on = all_in_modes(plan)
        costs = _session_costs(held, own, extra)
        p50, p90 = (nearest_rank(costs, 50), nearest_rank(costs, 90)) if costs else (None, None)
        subscribed = len(subscribers.get(plan.name, set()) | active.get(plan.name, set()))
        rows.append(limit_row(plan, catalog, at, Measured(len(costs), p50, p90, measured_on, subscribed)))
    return rows


@dataclass(frozen=True)
class Measured:
    """What a plan's row at its limit is made of: its measured sessions, their cost at p50 and p90 (None when
    none was measured), what they are, and its subscribers."""

    sessions: int
    p50: Decimal | None
    p90: Decimal | None
    measured_on: str
    subscribers: int


def own_label(plan: Plan) -> str:
    return f"{plan.name}'s sessions" + (f" in modes {', '.join(plan.modes)}" if plan.modes else "")


def all_in_modes(plan: Plan) -> str:
    """measured_on when no session of the plan's own is in its modes: every session in them is measured."""
    return f"all sessions in modes {', '.join(plan.modes)}"


def quota_of(plan: Plan) -> int | None:
    """The sessions a subscriber of `plan` may use (one for a plan paid per call or session); None: no quota."""
    return 1 if plan.period in ("call", "session") else plan.included_sessions


def whole_nanos(extra: dict[str, Decimal]) -> bool:
    """Whether every session type's extra cost is a whole number of nano-dollars: the costs are then
    ranked as ints (sorting ints is a tenth of sorting Decimals)."""
    return all(v.scaleb(9) == v.scaleb(9).to_integral_value() for v in extra.values())


def limit_row(plan: Plan, catalog: Catalog, at: dt.datetime, measured: Measured) -> AtLimitRow:
    """The margin of one subscriber of `plan` who uses its whole quota, at the measured p50 and p90 cost."""
    fee = payment_fee(catalog, plan.price_usd, at)
    quota = quota_of(plan)
    p50 = p90 = None
    if quota is None:
        state = "no quota"
    elif measured.p50 is None or measured.p90 is None:
        state = "no data"
    else:
        p50 = AtLimit(plan.price_usd, fee, quota, measured.p50)
        p90 = AtLimit(plan.price_usd, fee, quota, measured.p90)
        state = flag(p90.margin, plan.price_usd, plan.min_margin_share)
    return AtLimitRow(
        plan=plan,
        subscribers=measured.subscribers,
        measured_sessions=measured.sessions,
        measured_on=measured.measured_on,
        fee=fee,
        p50=p50,
        p90=p90,
        flag=state,
    )


def _session_costs(
    held: SessionFigures, keys: Iterable[SessionKey], extra: dict[str, Decimal]
) -> list[Decimal] | list[int]:
    """The cost of each priced session of `keys` (API cost plus its session type's extra cost), sorted: whole
    nano-dollars while every extra cost is one (sorting ints is a tenth of sorting Decimals), else Decimals."""
    extra_nanos = {mode: value.scaleb(9) for mode, value in extra.items()}
    if whole_nanos(extra):
        ints: list[int] = []
        for key in keys:
            found = held.priced.get(key)
            if found:
                shift = int(extra_nanos.get(key[3] or "", 0))
                ints.extend(found if not shift else (c + shift for c in found))
        ints.sort()
        return ints
    exact: list[Decimal] = []
    for key in keys:
        add = extra.get(key[3] or "", Decimal(0))
        exact.extend((from_nanos(c) or Decimal(0)) + add for c in held.priced.get(key, ()))
    exact.sort()
    return exact


def rank_of(n: int, q: int) -> int:
    """The nearest rank (1-based) of the q-th percentile of n values, as arithmetic.percentile takes it."""
    return max(math.ceil(Decimal(q) * n / 100), 1)


def nearest_rank(ordered: Sequence[Decimal] | Sequence[int], q: int) -> Decimal:
    """arithmetic.percentile of values already sorted (nano-dollars as ints, or Decimals)."""
    found = ordered[rank_of(len(ordered), q) - 1]
    return found if isinstance(found, Decimal) else from_nanos(found) or Decimal(0)


__all__ = [
    "AtLimitRow", "Measured", "all_in_modes", "at_limit_table", "limit_row", "nearest_rank", "own_label", "payment_fee",
    "quota_of", "rank_of", "whole_nanos",
]  # fmt: skip
