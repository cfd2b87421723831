"""A table as the dashboard shows it and exports it: named columns, rows of values, CSV.

Money stays Decimal until it is written: the page formats it for people (two places,
or more for a price), the CSV carries the exact stored value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..money import usd


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text | money | count | share | time | flag
    link: str | None = None  # a URL template filled from the row, e.g. "/sessions/{session_id}"


@dataclass
class Table:
    name: str  # the ?csv= name
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]] = ()
    note: str = ""

    def href(self, column: Column, row: Mapping[str, Any]) -> str | None:
        if column.link is None or row.get(column.key) in (None, ""):
            return None
        from urllib.parse import quote

        return column.link.format(**{k: quote(str(v), safe="") for k, v in row.items()})

    def cell(self, column: Column, row: Mapping[str, Any]) -> str:
        """The value as the page shows it."""
        value = row.get(column.key)
        if value is None or value == "":
            return "—" if column.kind in ("money", "count", "share") else ""
        if column.kind == "money":
            amount = Decimal(value)
            places = "0.01" if abs(amount) >= Decimal("0.1") or amount == 0 else "0.0001"
            return "$" + f"{amount.quantize(Decimal(places)):,}"
        if column.kind == "count":
            return f"{int(value):,}"
        if column.kind == "share":
            return f"{Decimal(value) * 100:.1f}%"
        if column.kind == "time":
            return str(value)[:19].replace("T", " ")
        return str(value)

    def csv(self) -> str:
        """Every row, every column, money as exact decimal strings."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_value(row.get(c.key)) for c in self.columns])
        return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return usd(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
