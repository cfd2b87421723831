"""What a person reads in a terminal: money to the cent, shares as percentages, tables that fit.

Tables round money half-even to the cent with thousands separators (`$1,234.57`,
`−$5.35`); `--json` and `--csv` keep the exact decimals. A table is laid out for the
terminal's width (80 columns in a pipe): ids and amounts are never cut, other text
columns wrap at their spaces, and only when even that cannot fit are the least needed
columns left out, with a line saying which.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

CENT = Decimal("0.01")
MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in a column of figures

# Kinds of column. Those in _WHOLE are never wrapped; numbers are right-aligned. A RATE is a price
# shown as written (a rate per MTok has more decimals than a cent: $0.075).
ID, TEXT, MONEY, COUNT, SHARE, RATE = "id", "text", "money", "count", "share", "rate"
_WHOLE = {ID, MONEY, COUNT, SHARE, RATE}
_RIGHT = {MONEY, COUNT, SHARE, RATE}


def money(value: Decimal | str | int | None, blank: str = "") -> str:
    """`$1,234.57`, `−$5.35`: to the cent, half-even, as a person reads money."""
    if value is None or value == "":
        return blank
    cents = Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
    text = f"${abs(cents):,.2f}"
    return MINUS + text if cents < 0 else text


def share(value: Decimal | str | float | None, blank: str = "") -> str:
    """A fraction as a percentage with one decimal: 0.4141 → `41.4%`."""
    if value is None or value == "":
        return blank
    return f"{Decimal(str(value)) * 100:.1f}%"


def count(value: int | str | None, blank: str = "") -> str:
    if value is None or value == "":
        return blank
    return f"{int(value):,}"


def duration(seconds: float | int | None, blank: str = "") -> str:
    """`45s`, `8m 34s`, `1h 02m`: whole seconds, as far as they matter."""
    if seconds is None:
        return blank
    whole = round(float(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def moment(value: dt.datetime | str | None, blank: str = "") -> str:
    """An instant in UTC to the minute, `2026-12-01 21:26`: wraps between date and time."""
    if value is None or value == "":
        return blank
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return f"{value:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = TEXT
    # 0: always shown. Otherwise, when the table cannot fit, the highest goes first.
    drop: int = 0

    def cell(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.key)
        if self.kind == MONEY:
            return money(value)
        if self.kind == COUNT:
            return count(value)
        if self.kind == SHARE:
            return share(value)
        return "" if value is None else str(value)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for line in text.splitlines() for word in line.split()), default=0)


def layout(cells: Sequence[Sequence[str]], columns: Sequence[Column], width: int) -> tuple[list[int], list[int], int]:
    """(indexes of the columns shown, their widths, the gap between columns) that fit `width`.

    Whole columns (ids, amounts) keep their widest cell; text columns may narrow to their
    longest word, as few of them as can be. Two spaces between columns, one if that is what
    fits; rows on one line before wrapped ones; leaving columns out comes last.
    """
    shown = list(range(len(columns)))
    headers = [c.header for c in columns]

    def natural(i: int) -> int:
        return max([cell_len(headers[i]), *(cell_len(row[i]) for row in cells)])

    def least(i: int) -> int:
        body = (cell_len(row[i]) if columns[i].kind in _WHOLE else _longest_word(row[i]) for row in cells)
        return max([_longest_word(headers[i]), *body])

    while True:
        floors = {i: least(i) for i in shown}
        # Tighter gaps before wrapped rows: a row on one line scans best.
        for wrap, gap in ((False, 2), (False, 1), (True, 2), (True, 1)):
            widths = {i: natural(i) for i in shown}
            excess = sum(widths.values()) - (width - gap * (len(shown) - 1))
            while wrap and excess > 0:  # wrap as few columns as can be: the one with most room first
                slack = {i: widths[i] - floors[i] for i in shown if widths[i] > floors[i]}
                if not slack:
                    break
                most = max(slack, key=lambda i: (slack[i], i))
                cut = min(slack[most], excess)
                widths[most] -= cut
                excess -= cut
            if excess <= 0:
                return shown, [widths[i] for i in shown], gap
        droppable = [i for i in shown if columns[i].drop]
        if not droppable:  # narrower than the essentials: wider than the terminal, but nothing cut
            return shown, [floors[i] for i in shown], 1
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))


def _wrap(text: str, width: int, whole: bool) -> list[str]:
    if whole or cell_len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _render(rows: Sequence[Sequence[str]], columns: Sequence[Column], shown: Sequence[int], widths: Sequence[int],
            gap: int, title: str | None, styles: Sequence[str | None]) -> Text:  # fmt: skip
    """The table as lines of text: a header (wrapped at its spaces, bottom-aligned), a rule, the rows.

    Drawn here rather than by rich.table, whose measuring of every cell cost a 700-row report
    a fifth of a second: the widths are decided by `layout` already.
    """
    space = " " * gap
    picked = [columns[i] for i in shown]

    def line(parts: Sequence[list[str]], at: int) -> str:
        cells = []
        for column, width, part in zip(picked, widths, parts, strict=True):
            value = part[at] if at < len(part) else ""
            pad = " " * (width - cell_len(value))
            cells.append(pad + value if column.kind in _RIGHT else value + pad)
        return space.join(cells).rstrip()

    out = Text()
    if title:
        out.append(title + "\n", style="bold")
    header = [_wrap(c.header, w, False) for c, w in zip(picked, widths, strict=True)]
    height = max(len(h) for h in header)
    header = [[""] * (height - len(h)) + h for h in header]
    for at in range(height):
        out.append(line(header, at) + "\n", style="bold")
    out.append("─" * (sum(widths) + gap * (len(widths) - 1)) + "\n", style="dim")
    for n, row in enumerate(rows):
        parts = [_wrap(row[i], w, columns[i].kind in _WHOLE) for i, w in zip(shown, widths, strict=True)]
        style = styles[n] if n < len(styles) else None
        for at in range(max(len(p) for p in parts)):
            out.append(line(parts, at) + "\n", style=style or "")
    return out


@dataclass(frozen=True)
class Section:
    """One of several tables laid out alike (the months of `margins`), so their columns line up."""

    title: str | None
    rows: Sequence[Mapping[str, Any]]
    styles: Sequence[str | None] = ()


def show(
    console: Console,
    rows: Sequence[Mapping[str, Any]] | Sequence[Section],
    columns: Sequence[Column],
    title: str | None = None,
    *,
    styles: Sequence[str | None] = (),
) -> None:
    """Print `rows` (or several sections) as tables that fit the console, and say which columns did not fit."""
    sections = [r for r in rows if isinstance(r, Section)] or [Section(title, rows, styles)]  # type: ignore[arg-type]
    cells = [[[c.cell(row) for c in columns] for row in section.rows] for section in sections]
    shown, widths, gap = layout([row for part in cells for row in part], columns, console.width)
    for section, part in zip(sections, cells, strict=True):
        # soft_wrap: a line wider than the terminal (narrower than the ids and amounts) is the
        # terminal's to wrap; nothing is cut.
        console.print(_render(part, columns, shown, widths, gap, section.title, section.styles), soft_wrap=True,
                      end="")  # fmt: skip
    left_out = [columns[i].header for i in range(len(columns)) if i not in shown]
    if left_out:
        note(console, f"not shown at {console.width} columns: {', '.join(left_out)}; a wider terminal or --json "
                      "shows them")  # fmt: skip


def note(console: Console, text: str, lead: str = "", style: str = "dim") -> None:
    """A line of text whose wrapped lines hang under its first word, after `lead` (a bullet, a figure)."""
    from rich.markup import escape

    grid = Table.grid(padding=(0, 1) if lead else 0)
    if lead:
        grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(*([escape(lead)] if lead else []), escape(text), style=style)
    console.print(grid)


_COUNTS = {"events", "unpriced", "sessions", "users", "changed", "unpriced_before", "unpriced_after", "subscribers"}
_IDS = {"session_id", "session", "user_id", "user", "event_id", "id"}


def column_for(name: str, drop: int = 0) -> Column:
    """The column of a field named as --json names it: `cost_usd` is money headed "cost"."""
    header = name.removesuffix("_usd").replace("_", " ")
    if name.endswith("_usd"):
        return Column(name, header, MONEY, drop)
    if name in _COUNTS:
        return Column(name, header, COUNT, drop)
    if name == "share":
        return Column(name, header, SHARE, drop)
    return Column(name, header, ID if name in _IDS else TEXT, drop)


def print_rows(
    console: Console,
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    as_json: bool,
    as_csv: bool,
    title: str,
    drop: Mapping[str, int] | None = None,
) -> None:
    """Rows as JSON or CSV (exact decimals) or a table that fits: the three forms every report offers."""
    import csv
    import json
    import sys

    if as_json:
        print(json.dumps(rows))
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    show(console, rows, [column_for(name, (drop or {}).get(name, 0)) for name in columns], title)


__all__ = [
    "Column", "Section", "column_for", "count", "duration", "layout", "moment", "money", "note", "print_rows", "share",
    "show",
]  # fmt: skip
