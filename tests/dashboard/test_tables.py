"""A table for people (cells) and for spreadsheets (CSV): exact, honest about unpriced, never a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from costledger.dashboard.tables import Column, Paging, Table, money_text, paged, share_text


def test_money_and_shares_read_as_people_write_them() -> None:
    assert money_text(Decimal("1234.567890123")) == "$1,234.57"
    assert money_text(Decimal("0.0042")) == "$0.0042"
    assert money_text(Decimal("-68.1")) == "\u2212$68.10"  # a loss, with a real minus sign
    assert share_text(Decimal("0.5763")) == "57.6%" and share_text(Decimal("-0.1")) == "\u221210.0%"


def test_cells_links_and_unpriced_amounts() -> None:
    columns = [Column("name", "Name", link="/sessions/{name}"), Column("cost", "Cost", "metered"),
               Column("extra", "Extra", "money"), Column("source", "Source", "url")]  # fmt: skip
    rows = [
        {"name": "a/b c", "cost": Decimal("1234.567890123"), "unpriced": 0, "extra": Decimal(0),
         "source": "https://example.com/pricing", "source_label": "Example, per minute"},
        {"name": "x", "cost": Decimal(0), "unpriced": 3, "extra": Decimal(0), "source": "javascript:alert(1)"},
    ]  # fmt: skip
    table = Table("t", "T", columns, rows)
    cells = [[table.cell(c, r) for c in table.columns] for r in table.rows]
    assert cells[0] == ["a/b c", "$1,234.57", "$0.00", "Example, per minute"]
    assert cells[1][:3] == ["x", "unpriced", "$0.00"]  # its events were all unpriced: unknown, not free
    assert table.href(columns[0], rows[0]) == "/sessions/a%2Fb%20c"
    assert table.href(columns[3], rows[0]) == "https://example.com/pricing"
    assert table.href(columns[3], rows[1]) is None  # only http(s) becomes a link


def test_csv_is_exact_utc_and_never_runs_as_a_formula() -> None:
    columns = [Column("who", "Who"), Column("at", "At", "time"), Column("margin", "Margin", "money")]
    hostile = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain"]
    moment = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)
    rows = [{"who": text, "at": moment, "margin": Decimal("-68.100000001")} for text in hostile]
    exported = list(csv.DictReader(io.StringIO(Table("t", "T", columns, rows).csv(), newline="")))
    assert [r["who"] for r in exported] == ["'" + t for t in hostile[:-1]] + ["plain"]
    assert {r["at"] for r in exported} == {"2026-11-30T23:59:59Z"}
    assert {r["margin"] for r in exported} == {"-68.100000001"}  # a number stays a number, every digit of it


def test_csv_holds_every_row_the_export_gives_not_only_the_page() -> None:
    everything = [{"n": i} for i in range(120)]
    shown, paging = paged(everything, 2, "n", True, ["n"], size=50)
    table = Table("t", "T", [Column("n", "N", "count")], shown, paging=paging, export=lambda: everything)
    assert [r["n"] for r in shown] == list(range(69, 19, -1))
    assert len(table.csv().splitlines()) == 121
    assert paging == Paging(2, 3, 120, "n", True, ("n",))
    assert Paging(7, 20, 1000, "n", True, ()).window() == [1, None, 5, 6, 7, 8, 9, None, 20]
