"""JSON-ready margins for the CLI, the API and the dashboard: one shape everywhere."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ..dates import WINDOW, parse_month
from .advice import advice
from .figures import month_bounds
from .plans import MarginReport, margin_report

if TYPE_CHECKING:
    from ..ledger import Ledger


def report_for(ledger: Ledger, month: str | None = None, since: dt.date | None = None,
               until: dt.date | None = None) -> MarginReport:  # fmt: skip
    """The margin report of one month ('YYYY-MM'), of a range, or of all data."""
    if month is not None:
        try:
            parse_month(month)  # a month asked about lies in the window of costledger.dates
        except ValueError:
            raise ValueError(f"expected a month such as 2026-11 ({WINDOW}), got {month!r}") from None
        since, until = month_bounds(month)
    return margin_report(ledger.store, ledger.config, ledger.catalog, since=since, until=until)


def margins_json(ledger: Ledger, month: str | None = None) -> dict[str, Any]:
    """Margins per plan per month, per user, the at-limit table and the assumptions."""
    return report_for(ledger, month).as_dict()


def timeline(report: MarginReport) -> list[dict[str, Any]]:
    """Margin per plan per month, in month order: the series a chart draws."""
    return [cell.as_dict() for cell in report.plans]


def at_limit_json(report: MarginReport) -> list[dict[str, Any]]:
    return [row.as_dict() for row in report.at_limit]


def recommendations_json(ledger: Ledger, since: dt.date | None = None, until: dt.date | None = None) -> dict[str, Any]:
    """The advice list, largest monthly saving first, each with its assumptions."""
    items = advice(ledger.store, ledger.config, ledger.catalog, since=since, until=until)
    return {"recommendations": [item.as_dict() for item in items]}


__all__ = ["at_limit_json", "margins_json", "recommendations_json", "report_for", "timeline"]
