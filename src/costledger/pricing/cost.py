"""The cost of one event under one price entry. Pure Decimal arithmetic, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..errors import UnknownPrice
from .entries import PriceEntry, Tiered
from .meters import INPUT_PARTS

_ZERO = Decimal(0)
# Meters an entry may leave unpriced: cache parts are then plain input, requests free.
_UNPRICED_OK = frozenset((*INPUT_PARTS, "input_tokens", "requests"))


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
        }


def _cost(total: Decimal, breakdown: Mapping[str, Decimal], entry: PriceEntry) -> Cost:
    # The frozen dataclass's __init__ (three object.__setattr__ calls) took as long as the
    # arithmetic; filling the instance's __dict__ makes the same immutable object.
    cost = object.__new__(Cost)
    cost.__dict__.update(total=total, breakdown=breakdown, entry=entry)
    return cost


def cost_of(usage: Mapping[str, int | Decimal], entry: PriceEntry) -> Cost:
    """Price `usage` with `entry`.

    Cache reads and writes are parts of `input_tokens`: each part a price exists for
    is billed at that price and taken out of the plain input; a part without its own
    price is plain input (OpenAI bills no cache writes). This is genai-prices' rule,
    so the two agree to the last digit.
    """
    rates = entry.rates
    total_input = usage.get("input_tokens", 0)
    breakdown: dict[str, Decimal] = {}
    total = _ZERO
    for meter, count in usage.items():
        rate = rates.get(meter)
        if rate is None:
            if not count or meter in _UNPRICED_OK:
                continue
            raise UnknownPrice(entry.service, f"{entry.model} (no price for {meter})")
        if meter == "input_tokens":
            for part in INPUT_PARTS:
                if part in rates and part in usage:
                    count = count - usage[part]
        price = rate.usd
        if isinstance(price, Tiered):
            # Most requests stay below the first threshold: skip the tier walk for them.
            price = price.at(total_input) if price.tiers and total_input > price.tiers[0][0] else price.base
        amount = price * count / rate.per
        breakdown[meter] = amount
        total += amount
    if "requests" in rates and "requests" not in usage:
        # One event is one request unless it says otherwise (genai-prices' rule too).
        rate = rates["requests"]
        price = rate.usd.at(total_input) if isinstance(rate.usd, Tiered) else rate.usd
        breakdown["requests"] = amount = price / rate.per
        total += amount
    if entry.per_event_usd:
        breakdown["per_event"] = entry.per_event_usd
        total += entry.per_event_usd
    return _cost(total, breakdown, entry)
