"""Money to the cent, shares as percentages, and tables that fit 80 columns without cutting an id or an amount."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from costledger.cli.output import COUNT, ID, MONEY, Column, Section, duration, money, share, show


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("30.174968151", "$30.17"),
        ("-5.345", "−$5.34"),  # half-even: 5.345 is exactly halfway, and 4 is even
        ("-5.355", "−$5.36"),
        ("2426.615", "$2,426.62"),
        ("1234567.891", "$1,234,567.89"),
        ("-0.004", "$0.00"),  # rounds to nothing: no minus on a zero
        (Decimal(0), "$0.00"),
        (None, ""),
    ],
)
def test_money_is_to_the_cent_with_separators_and_a_minus_sign(value: object, shown: str) -> None:
    assert money(value) == shown  # type: ignore[arg-type]


def test_shares_are_percentages_and_durations_read_as_time() -> None:
    assert share("0.4141") == "41.4%" and share(Decimal(1)) == "100.0%" and share(None) == ""
    assert [duration(s) for s in (45.4, 514.4, 3725)] == ["45s", "8m 34s", "1h 02m"]


def _render(width: int, rows: list[dict[str, object]], columns: list[Column]) -> str:
    out = io.StringIO()
    show(Console(file=out, width=width, color_system=None), rows, columns, "Sessions")
    return out.getvalue()


SESSIONS = [
    {"session": f"demo7-20261201-{n:03d}", "user": "u0135", "tier": "professional", "mode": "combined_council",
     "started": "2026-12-01 19:53", "events": 1234, "cost": "2426.61493"}
    for n in range(3)
]  # fmt: skip
COLUMNS = [Column("session", "session", ID), Column("user", "user", ID), Column("tier", "tier", drop=2),
           Column("mode", "mode", drop=1), Column("started", "started (UTC)"), Column("events", "events", COUNT),
           Column("cost", "cost", MONEY)]  # fmt: skip


def test_a_table_that_fits_shows_everything_on_one_line_per_row() -> None:
    text = _render(120, SESSIONS, COLUMNS)
    assert "professional" in text and "not shown" not in text
    assert len(text.splitlines()) == 2 + 1 + len(SESSIONS)  # title, header, rule, rows


@pytest.mark.parametrize("width", [80, 72, 60])
def test_at_narrow_widths_ids_and_amounts_stay_whole_and_a_note_says_what_is_left_out(width: int) -> None:
    text = _render(width, SESSIONS, COLUMNS)
    for row in SESSIONS:
        assert row["session"] in text and "$2,426.61" in text and "1,234" in text
    assert "…" not in text
    assert all(len(line.rstrip()) <= width for line in text.splitlines())
    assert f"not shown at {width} columns: tier" in " ".join(text.split())


def test_text_folds_at_its_spaces_before_anything_is_left_out() -> None:
    rows = [{"session": "s-1", "what": "a session costs over $5.00 and more words here", "cost": "1"}]
    columns = [Column("session", "session", ID), Column("what", "what"), Column("cost", "cost", MONEY)]
    text = _render(30, rows, columns)
    assert "not shown" not in text and "s-1" in text and "$1.00" in text
    assert all(word in text.split() for word in rows[0]["what"].split())  # wrapped between words, not inside one
    assert len(text.splitlines()) > 4


def test_sections_share_one_layout_so_their_columns_line_up() -> None:
    months = [
        Section("2026-10", [{"plan": "api", "margin": "1"}]),
        Section("2026-11", [{"plan": "professional", "margin": "-1234.5"}]),
    ]
    out = io.StringIO()
    show(Console(file=out, width=80, color_system=None), months, [Column("plan", "plan"),
                                                                   Column("margin", "margin", MONEY)])  # fmt: skip
    lines = [line.rstrip() for line in out.getvalue().splitlines() if "$" in line]
    assert [len(line) for line in lines] == [len(lines[1])] * 2 and lines[1].endswith("−$1,234.50")
