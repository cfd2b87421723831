"""The query layer in one import: totals (totals_query.py, from the per-period aggregates or the
rollups), the overview (overview.py), cost per session by mode (session_modes.py) and the session
listing (sessions_query.py), with the types they share (types.py).

Nothing below imports this module: it only gathers them.
"""

from __future__ import annotations

from .overview import MonthToDate, Overview, ServiceShare, TierCost, month_to_date, overview
from .ranges import tag_is
from .session_modes import ModeCost, session_costs_by_mode
from .sessions_query import SESSION_SORTS, list_sessions, session_events, session_summary
from .totals_query import daily_trend, days_totals, top, totals
from .types import FILTERS, GROUPS, Filters, SessionSummary, Total

__all__ = [
    "FILTERS",
    "GROUPS",
    "SESSION_SORTS",
    "Filters",
    "ModeCost",
    "MonthToDate",
    "Overview",
    "ServiceShare",
    "SessionSummary",
    "TierCost",
    "Total",
    "daily_trend",
    "days_totals",
    "list_sessions",
    "month_to_date",
    "overview",
    "session_costs_by_mode",
    "session_events",
    "session_summary",
    "tag_is",
    "top",
    "totals",
]
