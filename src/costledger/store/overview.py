"""Month to date, the month-end forecast, and the dashboard's overview in one call.

Nothing here reads the events (unless a tag filter asks for them). Unfiltered, the
totals come from the per-period totals (periods.py): a few dozen rows whatever the
traffic; with filters, from the daily rollups. Cost per session by mode (exact
percentiles) and users per tier come from the sessions table: for a whole month, from
its month indexes (schema.py) without a row reaching Python; otherwise from one pass
over the sessions the filters select.

The forecast is a run rate, as finance teams project a bill: what the month has cost
through yesterday, plus today at least at the run rate, plus the run rate for every
day left. The run rate is the average of the last seven complete days (before
today): a whole week, so the weekday/weekend rhythm does not bias it, recent enough
to follow a launch or a price change, and free of today's partial day. A ledger
younger than a week averages the complete days it has; a ledger whose first day is
today uses today as the rate.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    Connection,
)

from .. import clock
from ..money import quantize, usd
from .period_reads import ledger_days
from .periods import period_breakdowns, period_scope
from .session_modes import ModeCost, month_sessions
from .totals_query import days_totals, top, totals
from .types import Filters, Total

RUN_RATE_DAYS = 7
SHARE = Decimal("0.0001")
_ZERO = Decimal(0)


@dataclass(frozen=True)
class MonthToDate:
    month: str  # YYYY-MM
    cost_usd: Decimal  # the month so far, today included
    events: int
    unpriced: int
    days_elapsed: int  # today included
    days_in_month: int
    today_usd: Decimal
    today_events: int
    run_rate_usd: Decimal  # per day: the average of the last complete days (module docstring)
    forecast_usd: Decimal  # the month's expected total

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "cost_usd": usd(self.cost_usd),
            "events": self.events,
            "unpriced": self.unpriced,
            "days_elapsed": self.days_elapsed,
            "days_in_month": self.days_in_month,
            "today_usd": usd(self.today_usd),
            "today_events": self.today_events,
            "run_rate_usd": usd(self.run_rate_usd),
            "forecast_usd": usd(self.forecast_usd),
        }


def _today(today: dt.date | None) -> dt.date:
    return today or clock.today()


def month_to_date(connection: Connection, today: dt.date | None = None, filters: Filters = Filters()) -> MonthToDate:
    """The month so far and its forecast; the month replaces the filters' since/until."""
    return _month_to_date(connection, _today(today), filters)[0]


def _month_to_date(connection: Connection, today: dt.date, filters: Filters) -> tuple[MonthToDate, bool]:
    """The month to date, and whether the month has events after `today` (an overview of a past day)."""
    first = today.replace(day=1)
    window_start = today - dt.timedelta(days=RUN_RATE_DAYS)
    month_end = first.replace(day=calendar.monthrange(today.year, today.month)[1])
    # Through days_totals: one period-total row a day when the filters allow, else the rollups.
    # The month's days after today come along, to tell whether there are any.
    by_day = days_totals(connection, min(first, window_start), max(month_end, today), filters)
    later = any(day > today.isoformat() for day in by_day)
    in_month = [t for day, t in by_day.items() if first.isoformat() <= day <= today.isoformat()]
    month = Total({}, sum(t.events for t in in_month), sum(t.unpriced for t in in_month),
                  sum((t.cost_usd for t in in_month), start=_ZERO))  # fmt: skip
    now = by_day.get(today.isoformat())
    today_usd = now.cost_usd if now else _ZERO
    days_in_month = calendar.monthrange(today.year, today.month)[1]

    # The ledger's first day bounds the run-rate window (all events, not the filtered ones:
    # a user who started spending on Tuesday had zero days before, which is their real rate).
    span = ledger_days(connection)
    if span is not None:
        window_start = max(window_start, span[0])
    complete = (today - window_start).days
    if complete > 0:
        window = (by_day.get((window_start + dt.timedelta(days=n)).isoformat()) for n in range(complete))
        rate = quantize(sum((t.cost_usd for t in window if t), start=_ZERO) / complete)
    else:
        rate = today_usd
    forecast = (month.cost_usd - today_usd) + max(today_usd, rate) + rate * (days_in_month - today.day)
    mtd = MonthToDate(
        month=first.strftime("%Y-%m"),
        cost_usd=month.cost_usd,
        events=month.events,
        unpriced=month.unpriced,
        days_elapsed=today.day,
        days_in_month=days_in_month,
        today_usd=today_usd,
        today_events=now.events if now else 0,
        run_rate_usd=rate,
        forecast_usd=quantize(forecast),
    )
    return mtd, later


@dataclass(frozen=True)
class ServiceShare:
    service: str
    events: int
    cost_usd: Decimal
    share: Decimal  # of the month's cost, 0..1, four places

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "events": self.events,
            "cost_usd": usd(self.cost_usd),
            "share": usd(self.share),
        }


@dataclass(frozen=True)
class TierCost:
    """This month's cost of a tier, and per user: its users are those with a session this month.

    A tier whose events this month came without any session is left out (no users to divide by).
    """

    tier: str | None
    users: int
    cost_usd: Decimal
    per_user_usd: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "users": self.users,
            "cost_usd": usd(self.cost_usd),
            "per_user_usd": usd(self.per_user_usd),
        }


@dataclass(frozen=True)
class Overview:
    today: dt.date
    month: MonthToDate
    sessions: int  # started this month, with at least one event
    avg_session_usd: Decimal | None  # None without sessions
    by_service: list[ServiceShare]  # this month, most expensive first
    by_mode: list[ModeCost]
    by_tier: list[TierCost]
    top_users: list[Total]  # this month
    top_agents: list[Total]

    @property
    def unpriced(self) -> int:
        return self.month.unpriced

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "month": self.month.as_dict(),
            "unpriced": self.unpriced,
            "sessions": self.sessions,
            "avg_session_usd": None if self.avg_session_usd is None else usd(self.avg_session_usd),
            "by_service": [s.as_dict() for s in self.by_service],
            "by_mode": [m.as_dict() for m in self.by_mode],
            "by_tier": [t.as_dict() for t in self.by_tier],
            "top_users": [t.as_dict() for t in self.top_users],
            "top_agents": [t.as_dict() for t in self.top_agents],
        }


def overview(
    connection: Connection, today: dt.date | None = None, filters: Filters = Filters(), top_n: int = 5
) -> Overview:
    """What a dashboard's first page shows, for the month of `today` (filters' since/until are replaced)."""
    today = _today(today)
    mtd, later = _month_to_date(connection, today, filters)
    month = replace(filters, since=today.replace(day=1), until=today)
    if period_scope(filters) == ("", "") and not later:
        # Unfiltered, and `today` the month's last day with events: the month's period totals,
        # in one query of a few dozen rows whatever the traffic.
        parts = period_breakdowns(connection, mtd.month, {"service": None, "tier": None, "user_id": top_n,
                                                          "agent": top_n})  # fmt: skip
        services, tier_costs = parts["service"], parts["tier"]
        top_users = [Total({"user": t.group["user_id"]}, t.events, t.unpriced, t.cost_usd) for t in parts["user_id"]]
        top_agents = parts["agent"]
    else:
        services = totals(connection, ["service"], month)
        tier_costs = [t for t in totals(connection, ["tier"], month) if t.group["tier"] is not None]
        top_users = top(connection, "user", top_n, month)
        top_agents = top(connection, "agent", top_n, month)
    total = mtd.cost_usd
    by_service = [
        ServiceShare(
            t.group["service"] or "",
            t.events,
            t.cost_usd,
            (t.cost_usd / total).quantize(SHARE, ROUND_HALF_EVEN) if total else _ZERO,
        )
        for t in sorted(services, key=lambda t: (-t.cost_usd, t.group["service"] or ""))
    ]
    by_mode, users = month_sessions(connection, month)
    by_tier = []
    for t in sorted(tier_costs, key=lambda t: t.group["tier"] or ""):
        tier = t.group["tier"]
        count = users.get(tier, 0)
        if count:  # a tier without sessions this month has no "per user" to show
            by_tier.append(TierCost(tier, count, t.cost_usd, quantize(t.cost_usd / count)))
    sessions_count = sum(m.sessions for m in by_mode)
    spent = sum((m.cost_usd for m in by_mode), start=_ZERO)
    return Overview(
        today=today,
        month=mtd,
        sessions=sessions_count,
        avg_session_usd=quantize(spent / sessions_count) if sessions_count else None,
        by_service=by_service,
        by_mode=by_mode,
        by_tier=by_tier,
        top_users=top_users,
        top_agents=top_agents,
    )
