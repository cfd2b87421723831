"""Margin arithmetic: pure Decimal functions, no I/O.

Everything here is exact. Fixed costs are split by largest remainder in whole
smallest units (a nano-dollar by default), so the parts always add up to the
cost — no cent appears or vanishes between plans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_FLOOR, Decimal
from typing import TypeVar

from ..money import NANO, usd

_ZERO = Decimal(0)
K = TypeVar("K")
# A count or an amount: percentile takes either.
Number = TypeVar("Number", bound=int | Decimal)


def allocate(total: Decimal, weights: Sequence[int | Decimal], unit: Decimal = NANO) -> list[Decimal]:
    """Split `total` in proportion to `weights`, in whole `unit`s, parts summing exactly to `total`.

    Largest remainder (Hamilton): each part gets the floor of its exact share, and the
    units left over go to the parts with the largest fractional remainders (ties: the
    earlier part). So no part differs from its exact share by a whole unit or more.
    """
    if total < 0:
        raise ValueError(f"cannot allocate a negative amount ({total})")
    units = total / unit
    if units != units.to_integral_value():
        raise ValueError(f"{total} is not a whole number of {unit}")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    whole = int(units)
    weight_sum = sum(weights, start=Decimal(0))
    if not weights or weight_sum == 0:
        if whole == 0:
            return [_ZERO * unit for _ in weights]
        raise ValueError("cannot allocate a non-zero amount over no weight")
    # Exact rational shares: whole * w / weight_sum, done in integers to avoid Decimal precision limits.
    ints: list[int]
    if all(type(w) is int for w in weights):  # counts of sessions: already whole
        ints = [int(w) for w in weights]
    else:
        scale = _common_scale(weights)
        ints = [int(Decimal(w).scaleb(scale)) for w in weights]
    denominator = sum(ints)
    floors = [whole * w // denominator for w in ints]
    remainders = [whole * w % denominator for w in ints]
    left = whole - sum(floors)
    order = sorted(range(len(ints)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(n) * unit for n in floors]


def _common_scale(weights: Sequence[int | Decimal]) -> int:
    """The power of ten that makes every weight a whole number."""
    exponents = [Decimal(w).normalize().as_tuple().exponent for w in weights if w]
    lowest = min((e for e in exponents if isinstance(e, int)), default=0)
    return max(0, -lowest)


def allocate_by(total: Decimal, weights: Mapping[K, int | Decimal], unit: Decimal = NANO) -> dict[K, Decimal]:
    """`allocate` over a mapping: key → its part of `total`."""
    keys = list(weights)
    return dict(zip(keys, allocate(total, [weights[k] for k in keys], unit), strict=True))


@dataclass(frozen=True)
class Margin:
    """What a plan, user or month earned: revenue − refunds − disputes − fees − costs.

    `disputes` is money a cardholder's bank took back (less what a won dispute returned);
    `fees` are payment fees, a dispute's fee included (a refund does not give the original
    fee back), and `fees_estimated` the part of them that is the catalog's estimate rather
    than Stripe's own figure; `variable_cost` is the API bill; `extra_cost` the per-session
    costs that are no API bill (a human expert); `fixed_cost` the allocated share of fixed
    monthly costs.
    """

    revenue: Decimal = _ZERO
    refunds: Decimal = _ZERO
    fees: Decimal = _ZERO
    variable_cost: Decimal = _ZERO
    extra_cost: Decimal = _ZERO
    fixed_cost: Decimal = _ZERO
    disputes: Decimal = _ZERO
    fees_estimated: Decimal = _ZERO

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.refunds - self.disputes

    @property
    def cost(self) -> Decimal:
        return self.fees + self.variable_cost + self.extra_cost + self.fixed_cost

    @property
    def margin(self) -> Decimal:
        return self.net_revenue - self.cost

    @property
    def share(self) -> Decimal | None:
        """Margin as a share of net revenue (None without revenue)."""
        if self.net_revenue <= 0:
            return None
        return self.margin / self.net_revenue

    def __add__(self, other: Margin) -> Margin:
        return Margin(*(getattr(self, name) + getattr(other, name) for name in _MARGIN_FIELDS))

    def as_dict(self) -> dict[str, str | None]:
        share = self.share
        return {
            "revenue_usd": usd(self.revenue),
            "refunds_usd": usd(self.refunds),
            "disputes_usd": usd(self.disputes),
            "fees_usd": usd(self.fees),
            # Stripe's own fees (balance transactions, fees a caller reported) and the catalog's estimates.
            "fees_actual_usd": usd(self.fees - self.fees_estimated),
            "fees_estimated_usd": usd(self.fees_estimated),
            "variable_cost_usd": usd(self.variable_cost),
            "extra_cost_usd": usd(self.extra_cost),
            "fixed_cost_usd": usd(self.fixed_cost),
            "margin_usd": usd(self.margin),
            "margin_share": None if share is None else usd(share.quantize(Decimal("0.0001"))),
        }


_MARGIN_FIELDS = tuple(f.name for f in fields(Margin))


def percentile(values: Sequence[Number], q: Decimal | int | str) -> Number:
    """The nearest-rank percentile: the smallest value with at least q % of values at or below it
    (of Decimals, or of counts: ints sort faster).

    Nearest rank always returns an observed session cost, which a person can check by
    sorting the sessions by hand.
    """
    if not values:
        raise ValueError("no values")
    share = Decimal(q)
    if not 0 < share <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    ordered = sorted(values)
    rank = math.ceil(share * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class AtLimit:
    """One subscriber of a plan using its whole quota, at a cost per session."""

    price: Decimal
    fee: Decimal
    sessions: int  # the quota (1 for per-call and per-session plans)
    cost_per_session: Decimal  # API cost at the percentile, extra cost included
    fixed_per_subscriber: Decimal = _ZERO

    @property
    def cost(self) -> Decimal:
        return self.fee + self.sessions * self.cost_per_session + self.fixed_per_subscriber

    @property
    def margin(self) -> Decimal:
        return self.price - self.cost


def flag(margin: Decimal, price: Decimal, min_share: Decimal | None) -> str:
    """'negative', 'thin' (below min_share of the price) or 'ok'."""
    if margin < 0:
        return "negative"
    if min_share is not None and margin < price * min_share:
        return "thin"
    return "ok"


def per_month(amount: Decimal, days: int) -> Decimal:
    """Scale an amount seen over `days` to a 30-day month, to the cent below (advice is an estimate)."""
    if days <= 0:
        raise ValueError("days must be positive")
    return (amount * 30 / days).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


__all__ = ["AtLimit", "Margin", "allocate", "allocate_by", "flag", "per_month", "percentile"]
