"""The cost of one event under one price entry. Pure Decimal arithmetic, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from ..errors import UnknownPrice
from .entries import PriceEntry, Tiered
from .meters import ANCESTORS, join

_ZERO = Decimal(0)
# Meters an entry may leave unpriced without being unpriceable: requests are then free, and
# input_tokens of a service that bills something else (characters, audio) costs nothing.
_UNPRICED_OK = frozenset(("input_tokens", "requests"))


@dataclass(frozen=True)
class Cost:
    """A priced event: the exact total, what each meter cost, and which entry priced it."""

    total: Decimal
    breakdown: Mapping[str, Decimal]
    entry: PriceEntry

    def as_dict(self) -> dict[str, object]:
        from ..money import quantize, usd

        # Shown as stored: nine decimals (an audio second of Deepgram does not terminate).
        return {
            "cost_usd": usd(quantize(self.total)),
            "breakdown": {meter: usd(quantize(amount)) for meter, amount in self.breakdown.items()},
            "service": self.entry.service,
            "model": self.entry.model,
            "source": self.entry.source,
            "kind": self.entry.kind,
            "since": self.entry.since.isoformat() if self.entry.since else None,
            "price_ref": self.entry.ref,
            "service_tier": self.entry.service_tier,
            "confidence": self.entry.confidence,
        }


def _cost(total: Decimal, breakdown: Mapping[str, Decimal], entry: PriceEntry) -> Cost:
    # The frozen dataclass's __init__ (three object.__setattr__ calls) took as long as the
    # arithmetic; filling the instance's __dict__ makes the same immutable object.
    cost = object.__new__(Cost)
    cost.__dict__.update(total=total, breakdown=breakdown, entry=entry)
    return cost


# (meter, its base price, its long-context tiers if any, units the price buys, the priced parts taken out of it)
Step = tuple[str, Decimal, Tiered | None, int, tuple[str, ...]]


@dataclass(frozen=True)
class _Plan:
    """How an entry prices events that name these meters, worked out once per list of names."""

    steps: tuple[Step, ...]  # the most specific parts first, so a whole subtracts their leaf counts
    order: tuple[str, ...] | None  # the breakdown's order (the names' order) when steps differ from it
    unpriced: tuple[str, ...]  # named meters the entry has no price for, nor for anything they are part of
    joins: tuple[tuple[str, str, str], ...]  # (priced overlap not named, a, b): both a and b above 0 is ambiguous
    parts: bool  # some step takes parts out of its whole
    checks: bool  # unpriced meters, ambiguous overlaps or a no-fee-on-zero rule to look at
    extras: bool  # an implicit request, a per-event fee or rounding of the total


def _plan(entry: PriceEntry, names: tuple[str, ...]) -> _Plan:
    rates = entry.rates
    priced = [n for n in names if n in rates]
    # A part before every whole it is part of; otherwise the names' order.
    steps: list[Step] = []
    placed: set[str] = set()
    pending = list(priced)
    while pending:
        for name in pending:
            if not any(name in ANCESTORS.get(other, ()) for other in pending if other not in placed and other != name):
                break
        pending.remove(name)
        placed.add(name)
        parts = tuple(p for p in priced if name in ANCESTORS.get(p, ()))
        rate = rates[name]
        tiered = rate.usd if isinstance(rate.usd, Tiered) and rate.usd.tiers else None
        base = rate.usd.base if isinstance(rate.usd, Tiered) else rate.usd
        steps.append((name, base, tiered, rate.per, parts))
    unpriced = tuple(
        n
        for n in names
        if n not in rates and n not in _UNPRICED_OK and not any(a in rates for a in ANCESTORS.get(n, ()))
    )
    joins = tuple(
        (overlap, a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if (overlap := join(a, b)) is not None and overlap not in (a, b) and overlap in rates and overlap not in names
    )
    order = tuple(priced) if [s[0] for s in steps] != priced else None
    extras = (
        ("requests" in rates and "requests" not in names) or bool(entry.per_event_usd) or entry.round_usd is not None
    )
    return _Plan(tuple(steps), order, unpriced, joins, any(s[4] for s in steps),
                 bool(unpriced or joins or entry.no_fee_on_zero), extras)  # fmt: skip


def _check(usage: Mapping[str, int | Decimal], entry: PriceEntry, plan: _Plan) -> None:
    for meter in plan.unpriced:
        if usage[meter]:
            raise UnknownPrice(entry.service, entry.model, reason=f"no price for {meter}")
    for overlap, a, b in plan.joins:
        if usage[a] and usage[b]:
            raise UnknownPrice(
                entry.service,
                entry.model,
                reason=f"it prices {overlap} apart: with {a} and {b} both given,"
                f" {overlap} must be given too (0 if none)",
            )


def _rounded_up(value: int | Decimal, step: Decimal) -> Decimal:
    return (Decimal(value) / step).to_integral_value(ROUND_CEILING) * step


def cost_of(usage: Mapping[str, int | Decimal], entry: PriceEntry) -> Cost:
    """Price `usage` with `entry`, by genai-prices' rule for parts.

    A part with a price of its own (cache reads, audio tokens, 1-hour cache writes) is billed at
    that price and taken out of every whole it is part of; a part without one stays in its whole
    and is billed at the whole's price (OpenAI bills no cache writes: they are plain input). So
    the two agree to the last digit. Rounding is the entry's, per event.
    """
    if entry.round_up:
        usage = {m: _rounded_up(q, entry.round_up[m]) if m in entry.round_up else q for m, q in usage.items()}
    names = tuple(usage)
    plans = entry.plans
    plan: _Plan | None = plans.get(names)
    if plan is None:
        if len(plans) > 256:
            plans.clear()
        plan = plans[names] = _plan(entry, names)
    if plan.checks:
        _check(usage, entry, plan)
        if entry.no_fee_on_zero and not any(usage.values()):
            return _cost(_ZERO, {}, entry)
    total_input = usage.get("input_tokens", 0)
    breakdown: dict[str, Decimal] = dict.fromkeys(plan.order, _ZERO) if plan.order else {}
    total = _ZERO
    if not plan.parts:
        for meter, price, tiered, per, _ in plan.steps:
            # Most requests stay below the first threshold: skip the tier walk for them.
            if tiered is not None and total_input > tiered.tiers[0][0]:
                price = tiered.at(total_input)
            breakdown[meter] = amount = price * usage[meter] / per
            total += amount
    else:
        leaf: dict[str, int | Decimal] = {}
        for meter, price, tiered, per, parts in plan.steps:
            count = usage[meter]
            for part in parts:
                count = count - leaf[part]
            if count < 0:
                raise UnknownPrice(
                    entry.service, entry.model, reason=f"the parts of {meter} priced apart add up to more than {meter}"
                )
            leaf[meter] = count
            if tiered is not None and total_input > tiered.tiers[0][0]:
                price = tiered.at(total_input)
            breakdown[meter] = amount = price * count / per
            total += amount
    if not plan.extras:
        return _cost(total, breakdown, entry)
    rates = entry.rates
    if "requests" in rates and "requests" not in usage:
        # One event is one request unless it says otherwise (genai-prices' rule too).
        rate = rates["requests"]
        price = rate.usd.at(total_input) if isinstance(rate.usd, Tiered) else rate.usd
        breakdown["requests"] = amount = price / rate.per
        total += amount
    if entry.per_event_usd:
        breakdown["per_event"] = entry.per_event_usd
        total += entry.per_event_usd
    if entry.round_usd is not None:
        rounded = (total / entry.round_usd).to_integral_value(ROUND_HALF_UP) * entry.round_usd
        if rounded != total:
            breakdown["rounding"] = rounded - total
            total = rounded
    return _cost(total, breakdown, entry)
