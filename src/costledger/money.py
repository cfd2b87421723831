"""Exact money. Costs are Decimal everywhere; the store keeps whole nano-dollars.

Why nano-dollars in an integer column: SQLite has no decimal type (SQLAlchemy's
Numeric goes through float there), while integer SUM is exact on both SQLite and
PostgreSQL. Nine decimal places is below a millionth of a cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO = Decimal("0.000000001")


def to_nanos(amount: Decimal) -> int:
    """Round half-even to a whole nano-dollar (what the store keeps)."""
    return int(amount.quantize(NANO, rounding=ROUND_HALF_EVEN).scaleb(9))


def from_nanos(nanos: int | None) -> Decimal | None:
    if nanos is None:
        return None
    return Decimal(int(nanos)).scaleb(-9)


def quantize(amount: Decimal) -> Decimal:
    """The stored value of an exact cost: nine decimals, half-even."""
    return amount.quantize(NANO, rounding=ROUND_HALF_EVEN)


def usd(amount: Decimal | None) -> str:
    """A decimal string without exponent notation, as JSON and CSV carry money."""
    if amount is None:
        return ""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


__all__ = ["NANO", "from_nanos", "quantize", "to_nanos", "usd"]
