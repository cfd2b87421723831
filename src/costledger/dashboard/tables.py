"""A table as the dashboard shows it and exports it: named columns, rows of values, CSV.

Money stays Decimal until it is written: the page formats it for people (two places,
or more for a price; a loss as −$68.10), the CSV carries the exact stored value. An
amount whose events were all unpriced reads "unpriced", never $0.00.

Columns carry a priority: at phone width only the first-priority ones show (the name
and the money people come for), the rest come back on wider screens. A table whose
rows are all on the page sorts in the browser (dashboard.js); a paged one sorts on the
server, through its header links.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ..money import usd

PAGE_SIZE = 50
MINUS = "\u2212"  # a real minus sign: "−$68.10" reads as a loss, "$-68.10" as a typo
# What a spreadsheet runs as a formula when a cell starts with it (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # text | money | metered (money from events: "unpriced" when none could be priced) | count | number
    # | share | time | flag | url | lines (one item a line on a wide screen, run together on a phone)
    kind: str = "text"
    link: str | None = None  # a URL template filled from the row, e.g. "/sessions/{session_id}"
    priority: int = 2  # 1: always shown; 2: hidden below 600 px; 3: hidden below 900 px
    sortable: bool = True
    wrap: bool = False  # long text (notes, messages) wraps instead of widening the table
    blank: str = ""  # what an empty value reads as ("(no agent)"): text only, never a link


@dataclass(frozen=True)
class Paging:
    """A table shown a page at a time, sorted by the server (query parameters sort, order, page)."""

    page: int
    pages: int
    count: int
    sort: str
    descending: bool
    sorts: Sequence[str]  # the column keys the server can sort by

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to show: first, last and those near the current one; None for a gap."""
        wanted = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        out: list[int | None] = []
        for n in sorted(p for p in wanted if 1 <= p <= self.pages):
            if out and out[-1] is not None and n - int(out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def money_text(amount: Decimal) -> str:
    """$1,234.57 (sub-dime amounts keep four places: $0.0042); a negative amount −$68.10."""
    if amount < 0:
        return MINUS + money_text(-amount)
    places = "0.01" if abs(amount) >= Decimal("0.1") or amount == 0 else "0.0001"
    return "$" + f"{amount.quantize(Decimal(places)):,}"


def share_text(share: Decimal) -> str:
    """0.6423 → 64.2%; −0.1 → −10.0%."""
    text = f"{abs(share) * 100:.1f}%"
    return MINUS + text if share < 0 else text


def time_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)[:19].replace("T", " ")


@dataclass
class Table:
    name: str  # the ?csv= name
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]] = ()
    note: str = ""
    paging: Paging | None = None
    # Every row matching the page's filters, for the CSV (default: `rows`). Called when exported.
    export: Callable[[], Iterable[Mapping[str, Any]]] | None = None
    unpriced_key: str = "unpriced"  # the row's count of unpriced events, if it has one
    extra: dict[str, Any] = field(default_factory=dict)

    def href(self, column: Column, row: Mapping[str, Any]) -> str | None:
        value = row.get(column.key)
        if value in (None, ""):
            return None
        if column.kind == "url":
            text = str(value)
            return text if text.startswith(("https://", "http://")) else None
        if column.link is None:
            return None
        return column.link.format(**{k: quote(str(v), safe="") for k, v in row.items()})

    def cell(self, column: Column, row: Mapping[str, Any]) -> str:
        """The value as the page shows it."""
        value = row.get(column.key)
        if column.kind == "metered" and not value and int(row.get(self.unpriced_key) or 0) > 0:
            return "unpriced"  # nothing of it could be priced: unknown, not free
        if value is None or value == "":
            return "—" if self.numeric(column) else column.blank
        if column.kind in ("money", "metered"):
            return money_text(Decimal(value))
        if column.kind == "count":
            return f"{int(value):,}"
        if column.kind == "number":
            return f"{value:,}"
        if column.kind == "share":
            return share_text(Decimal(value))
        if column.kind == "time":
            return time_text(value)
        if column.kind == "url":
            # A link says what it points to: the row's `<key>_label`, else the address without its scheme.
            label = row.get(f"{column.key}_label")
            return str(label) if label else str(value).split("://", 1)[-1]
        return str(value)

    def sort_value(self, column: Column, row: Mapping[str, Any]) -> str:
        """What the browser sorts a column by: the exact number, or the text."""
        value = row.get(column.key)
        if value is None or value == "":
            return ""
        if self.numeric(column):
            return usd(Decimal(value))
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value)

    def numeric(self, column: Column) -> bool:
        return column.kind in ("money", "metered", "count", "number", "share")

    def csv_lines(self) -> Iterator[str]:
        """Every row matching the filters (not only this page), every column, money exact, times in UTC
        with Z, and text a spreadsheet would run as a formula neutralised. One line at a time."""
        out = io.StringIO()
        # CRLF, as RFC 4180 has it: a CR or LF inside a cell is then always quoted.
        writer = csv.writer(out, lineterminator="\r\n")

        def line(values: list[str]) -> str:
            out.seek(0)
            out.truncate()
            writer.writerow(values)
            return out.getvalue()

        yield line([c.key for c in self.columns])
        for row in self.export() if self.export is not None else self.rows:
            yield line([csv_value(row.get(c.key)) for c in self.columns])

    def csv(self) -> str:
        return "".join(self.csv_lines())


def csv_value(value: Any) -> str:
    # The common kinds first, by exact type: an export runs this for every cell (435,000 for a month's
    # sessions at 1M events), and the isinstance chain below cost twice as much for each text or count.
    kind = type(value)
    if kind is str:
        cell: str = value
        return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
    if kind is int:
        return str(value)  # what usd(Decimal(n)) writes for a whole number
    if kind is Decimal:
        return usd(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return usd(Decimal(value))  # a number, never a formula: "-68.1" stays a number
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return moment.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A leading apostrophe makes the cell text in Excel, LibreOffice and Google Sheets.
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows sorted by one column; empty values last either way, ties by the first column's text."""
    present = [r for r in rows if r.get(key) not in (None, "")]
    absent = [r for r in rows if r.get(key) in (None, "")]
    present.sort(key=lambda r: str(next(iter(r.values()))))
    present.sort(key=lambda r: r[key], reverse=descending)
    return present + absent


def paged(rows: list[dict[str, Any]], page_number: int, sort: str, descending: bool, sorts: Sequence[str],
          size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], Paging]:  # fmt: skip
    """One page of rows all in memory, sorted by the column asked for."""
    pages = max(1, -(-len(rows) // size))
    number = min(max(page_number, 1), pages)
    ordered = sort_rows(rows, sort, descending)
    start = (number - 1) * size
    return ordered[start : start + size], Paging(number, pages, len(rows), sort, descending, tuple(sorts))
