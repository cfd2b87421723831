"""Reading stored money exactly: sums no SQL SUM overflows in, and the order of stored sums.

A column of nano-dollars below 10^18 (an event's cost, or the low part of a stored sum, see
money.py) is summed in two halves, its whole dollars and its nano-dollars below a dollar: each
half of a row is below 10^9, so neither SUM passes 2^63 before 9 × 10^9 rows. SQLite's SUM
raises "integer overflow" past 2^63 (and `+` turns into a float); PostgreSQL's SUM of bigints
is numeric and exact anyway, but one way for both keeps one code path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Label, Table, func, tuple_

from ..money import SPLIT, split

# The split of an event's cost column in a SUM: whole dollars and nano-dollars below a dollar.
DOLLAR = 10**9


def cost_sum(low: ColumnElement[Any], high: ColumnElement[Any] | None = None, label: str = "cost") -> list[Label[Any]]:
    """SUM(low) (+ SUM(high) × 10^18) as labelled columns that `summed(row, label)` puts together."""
    # `//` of two integers is SQL's integer division on both backends (`/` would cast to numeric).
    parts = [
        func.coalesce(func.sum(low // DOLLAR), 0).label(f"{label}__usd"),
        func.coalesce(func.sum(low % DOLLAR), 0).label(f"{label}__nano"),
    ]
    if high is not None:
        parts.append(func.coalesce(func.sum(high), 0).label(f"{label}__high"))
    return parts


def summed(row: Any, label: str = "cost") -> int:
    """The nano-dollars of cost_sum's columns in a result row (a Row or a mapping)."""
    mapping: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
    # NULL parts (an outer join that found nothing) count as 0.
    high, dollars, nanos = (mapping.get(f"{label}__{part}") or 0 for part in ("high", "usd", "nano"))
    return from_halves(dollars, nanos, high)


def from_halves(dollars: Any, nanos: Any, high: Any = 0) -> int:
    """The nano-dollars of cost_sum's parts read by position: SUM(low // 10^9), SUM(low % 10^9), SUM(high)."""
    return int(high or 0) * SPLIT + int(dollars or 0) * DOLLAR + int(nanos or 0)


def table_sum(table: Table, name: str = "cost", label: str | None = None) -> list[Label[Any]]:
    """cost_sum over a stored sum of `table` (columns `name` and `name`_high)."""
    return cost_sum(table.c[name], table.c[f"{name}_high"], label or name)


def stored_sum(row: Any, name: str = "cost") -> int:
    """One row's stored sum (columns `name`_high and `name`), in nano-dollars."""
    mapping: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
    return int(mapping[f"{name}_high"] or 0) * SPLIT + int(mapping[name] or 0)


def stored_sums(**sums: int) -> dict[str, int]:
    """Column values of stored sums: stored_sums(cost=n) → {"cost_high": …, "cost": …}."""
    out: dict[str, int] = {}
    for name, nanos in sums.items():
        out[f"{name}_high"], out[name] = split(nanos)
    return out


def by_cost(table: Table, descending: bool = False) -> list[ColumnElement[Any]]:
    """ORDER BY a stored sum: its high part, then its low part."""
    columns = [table.c.cost_high, table.c.cost]
    return [c.desc() for c in columns] if descending else [c.asc() for c in columns]


def cost_at_least(table: Table, nanos: int) -> ColumnElement[bool]:
    return tuple_(table.c.cost_high, table.c.cost) >= tuple_(*split(nanos))


def cost_at_most(table: Table, nanos: int) -> ColumnElement[bool]:
    return tuple_(table.c.cost_high, table.c.cost) <= tuple_(*split(nanos))
