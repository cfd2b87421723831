"""Exact money. Costs are Decimal everywhere; the store keeps whole nano-dollars.

Why nano-dollars in integer columns: SQLite has no decimal type (SQLAlchemy's Numeric goes
through float there), while integer arithmetic is exact on both SQLite and PostgreSQL. Nine
decimal places is below a millionth of a cent.

A 64-bit integer holds at most 2^63 - 1 nano-dollars (about $9.22e9): one event is bounded
well below that (MAX_EVENT_USD), but a sum of events is not. So every stored *sum* (rollups,
sessions, period totals…) is two integer columns, `cost` and `cost_high`, worth
cost_high × 10^18 + cost nano-dollars with 0 <= cost < 10^18: adding two lows never passes
2^63, the carry goes to the high part in the same statement, and a sum of lows over rows is
read in two halves (sql_sum) so no SQL SUM passes 2^63 either. A high part counts billions of
dollars; it passes 2^63 only past $9.2e27, which 10^18 events at the per-event limit would take.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO = Decimal("0.000000001")
# The most one event may cost (given as cost_usd or priced from its meters), and the most a
# previous tracker's recorded cost or a budget estimate may say: a cost above it is a bug in the
# caller, and in nano-dollars it stays far inside a 64-bit integer.
MAX_EVENT_USD = Decimal(10**9)
# A stored sum is high × SPLIT + low nano-dollars.
SPLIT = 10**18
_EXACT = 10**28


def to_nanos(amount: Decimal) -> int:
    """Round half-even to a whole nano-dollar (what the store keeps)."""
    return int(amount.quantize(NANO, rounding=ROUND_HALF_EVEN).scaleb(9))


def from_nanos(nanos: int | None) -> Decimal | None:
    if nanos is None:
        return None
    nanos = int(nanos)
    if -_EXACT < nanos < _EXACT:
        return Decimal(nanos).scaleb(-9)
    # scaleb rounds to the context's 28 digits; text is read exactly.
    return Decimal(f"{nanos}e-9")


def quantize(amount: Decimal) -> Decimal:
    """The stored value of an exact cost: nine decimals, half-even."""
    return amount.quantize(NANO, rounding=ROUND_HALF_EVEN)


def split(nanos: int) -> tuple[int, int]:
    """A sum of nano-dollars as its stored (high, low) columns: low in [0, 10^18), high signed."""
    if 0 <= nanos < SPLIT:
        return 0, nanos
    return divmod(nanos, SPLIT)


def join(high: int | None, low: int | None) -> int:
    """The nano-dollars a stored (high, low) pair holds (NULLs count as 0)."""
    return int(high or 0) * SPLIT + int(low or 0)


def too_dear(nanos: int) -> str:
    """Why an event priced at `nanos` is refused (it costs more than MAX_EVENT_USD)."""
    return f"prices to ${usd(from_nanos(nanos))}, more than the ${usd(MAX_EVENT_USD)} one event may cost"


def usd(amount: Decimal | None) -> str:
    """A decimal string without exponent notation, as JSON and CSV carry money."""
    if amount is None:
        return ""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


__all__ = ["MAX_EVENT_USD", "NANO", "SPLIT", "from_nanos", "join", "quantize", "split", "to_nanos", "too_dear", "usd"]
