"""The whole cost of a date range: metered spend, per-session extra cost, and fixed monthly
costs allocated per day.

- **Metered**: what the events cost (the rollups and period totals), payments' fees included.
- **Extra**: `[[session_types]] extra_cost_usd`, once per session of that mode (a human
  expert's fee, say), counted on the day the session started.
- **Fixed**: `[[fixed_costs]]`. A month's fixed cost is what the margins count for it
  (`margins.plans.fixed_cost_of`: every cost in force on any day of the month, in full),
  split over the month's days by largest remainder (`margins.arithmetic.allocate`), so a
  range gets the days it covers and a whole month gets exactly its fixed cost.

Filters by user, tier or mode select sessions: their extra cost is that of the selected
sessions, and their part of a day's fixed cost is the day's share split between the
selected sessions and the rest of that day's sessions, in proportion to how many, by
largest remainder. A day without sessions has no session to carry its fixed cost: it
counts in the unfiltered total only. Filters by service, agent or model select events,
not sessions: a session's extra cost and the fixed costs belong to no service or
agent, so under those filters only metered spend is counted (`allocated` says so).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from .config import Config, FixedCost
from .margins.arithmetic import allocate
from .margins.plans import fixed_cost_of
from .money import NANO, from_nanos, quantize, to_nanos, usd
from .store.overview import RUN_RATE_DAYS, month_to_date
from .store.period_reads import ledger_days
from .store.session_counts import session_counts
from .store.session_modes import ModeCost, session_costs_by_mode
from .store.session_starts import kept_modes
from .store.totals_query import days_totals
from .store.types import Filters

_ZERO = Decimal(0)
# The filters that select sessions (and so carry extra and fixed costs); the others select events.
SESSION_DIMENSIONS = ("user_id", "tier", "mode", "session_id")


@dataclass(frozen=True)
class CostParts:
    metered: Decimal = _ZERO
    extra: Decimal = _ZERO
    fixed: Decimal = _ZERO

    @property
    def total(self) -> Decimal:
        return self.metered + self.extra + self.fixed

    def __add__(self, other: CostParts) -> CostParts:
        return CostParts(self.metered + other.metered, self.extra + other.extra, self.fixed + other.fixed)

    def as_dict(self) -> dict[str, str]:
        return {"metered_usd": usd(self.metered), "extra_usd": usd(self.extra), "fixed_usd": usd(self.fixed),
                "total_usd": usd(self.total)}  # fmt: skip


@dataclass(frozen=True)
class WholeCost:
    since: dt.date
    until: dt.date
    parts: CostParts
    events: int
    unpriced: int
    sessions: int  # sessions with events started in the range (of the filters)
    allocated: bool  # False under service/agent/model/tag filters: extra and fixed costs are not counted
    by_day: dict[dt.date, CostParts] = field(default_factory=dict)  # every day of the range
    counts_by_day: dict[dt.date, tuple[int, int]] = field(default_factory=dict)  # (events, unpriced), days with events

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), **self.parts.as_dict(),
                "events": self.events, "unpriced": self.unpriced, "sessions": self.sessions,
                "allocated": self.allocated}  # fmt: skip


def extra_by_mode(config: Config) -> dict[str, Decimal]:
    """mode → the extra cost of one of its sessions (only modes that have one)."""
    return {st.mode: st.extra_cost_usd for st in config.session_types if st.extra_cost_usd}


def _days(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]


def _month_days(year: int, month: int) -> list[dt.date]:
    first = dt.date(year, month, 1)
    return _days(first, first.replace(day=calendar.monthrange(year, month)[1]))


def fixed_by_day(fixed_costs: Sequence[FixedCost], since: dt.date, until: dt.date) -> dict[dt.date, Decimal]:
    """Each day of [since, until] → its share of its month's fixed cost (equal days, largest remainder)."""
    out: dict[dt.date, Decimal] = {}
    month = since.replace(day=1)
    while month <= until:
        days = _month_days(month.year, month.month)
        monthly = fixed_cost_of(f"{month:%Y-%m}", fixed_costs)
        for day, share in zip(days, allocate(monthly, [1] * len(days)), strict=True):
            if since <= day <= until:
                out[day] = share
        if days[-1] >= until:  # done; and the day after 9999-12-31 (a stored date) does not exist
            break
        month = days[-1] + dt.timedelta(days=1)
    return out


def part_of(amount: Decimal, part: int, whole: int) -> Decimal:
    """The share of `amount` that `part` of `whole` sessions carry, by largest remainder against the rest."""
    if part <= 0 or whole <= 0:
        return _ZERO
    if not amount:  # what allocate gives, without its arithmetic: called per user and day on a page
        return _ZERO * NANO
    units = amount.scaleb(9)
    if part > whole or amount < 0 or units != units.to_integral_value():
        return allocate(amount, [part, whole - part])[0]  # which refuses them, saying why
    # allocate's largest remainder over two parts, in integers (a page calls this per user and day): the
    # remainders of part and of whole - part add up to 0 or to whole, so one nano is left over exactly
    # when the part's remainder is not 0, and goes to the part when its remainder is the larger (a tie: the part).
    share, remainder = divmod(int(units) * part, whole)
    if remainder and 2 * remainder >= whole:
        share += 1
    return Decimal(share) * NANO


def allocated(filters: Filters) -> bool:
    """Do these filters select sessions (so extra and fixed costs apply), rather than events?"""
    return not filters.tags and all(column in SESSION_DIMENSIONS for column in filters.dims)


def _session_filters(filters: Filters) -> bool:
    return filters.unpriced or any(column in SESSION_DIMENSIONS for column in filters.dims)


def _ranged(filters: Filters) -> tuple[dt.date, dt.date]:
    if filters.since is None or filters.until is None:
        raise ValueError("the whole cost needs a date range (since and until)")
    return filters.since, filters.until


def whole_cost(connection: Connection, config: Config, filters: Filters) -> WholeCost:
    """Metered, extra and fixed cost of the filters' range, in total and per day (module docstring)."""
    since, until = _ranged(filters)
    metered = days_totals(connection, since, until, filters)
    days = _days(since, until)
    extra_cost = extra_by_mode(config)
    counted = allocated(filters)
    per_day_mode = session_counts(connection, filters, ["mode"]) if counted else {}
    sessions = sum(per_day_mode.values())
    fixed = fixed_by_day(config.fixed_costs, since, until) if counted else {}
    if counted and _session_filters(filters) and fixed:
        # The day's share, split between the selected sessions and the rest of that day's.
        mine: dict[dt.date, int] = {}
        for (day, _mode), n in per_day_mode.items():
            mine[day] = mine.get(day, 0) + n
        everyone = sessions_per_day(connection, days)
        fixed = {d: part_of(share, mine.get(d, 0), everyone.get(d, 0)) for d, share in fixed.items()}
    extra: dict[dt.date, Decimal] = {}
    for (day, mode), n in per_day_mode.items():
        if mode in extra_cost:
            extra[day] = extra.get(day, _ZERO) + extra_cost[mode] * n
    by_day = {}
    for day in days:
        found = metered.get(day.isoformat())
        by_day[day] = CostParts(found.cost_usd if found else _ZERO, extra.get(day, _ZERO), fixed.get(day, _ZERO))
    return WholeCost(
        since=since,
        until=until,
        parts=sum(by_day.values(), start=CostParts()),
        events=sum(t.events for t in metered.values()),
        unpriced=sum(t.unpriced for t in metered.values()),
        sessions=sessions,
        allocated=counted,
        by_day=by_day,
        counts_by_day={dt.date.fromisoformat(k): (t.events, t.unpriced) for k, t in metered.items()},
    )


def previous_period(since: dt.date, until: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length that ends the day before `since`."""
    length = (until - since).days + 1
    return since - dt.timedelta(days=length), since - dt.timedelta(days=1)


def session_fixed_share(fixed_costs: Sequence[FixedCost], day: dt.date, sessions_that_day: int) -> Decimal:
    """One session's part of its day's fixed cost: the day's share over that day's sessions."""
    return part_of(fixed_by_day(fixed_costs, day, day)[day], 1, sessions_that_day)


def sessions_per_day(connection: Connection, days: Iterable[dt.date]) -> dict[dt.date, int]:
    """All sessions with events started on each of `days` (unfiltered): what a session's fixed share divides by."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    found = session_counts(connection, Filters(since=wanted[0], until=wanted[-1]))
    return {day: found.get((day,), 0) for day in wanted}


def fixed_share_by_day(
    connection: Connection, config: Config, since: dt.date, until: dt.date
) -> dict[dt.date, Decimal]:
    """Each day of the range → the fixed share one of its sessions carries (days without sessions left out)."""
    counts = sessions_per_day(connection, _days(since, until))
    fixed = fixed_by_day(config.fixed_costs, since, until)
    return {day: part_of(fixed[day], 1, n) for day, n in counts.items() if n}


def sessions_side(
    connection: Connection, config: Config, filters: Filters, dimension: str
) -> dict[str | None, dict[dt.date, CostParts]]:
    """Per user (dimension "user") or tier, per day of the filters' range: the extra cost of its
    sessions and its part of the day's fixed cost (`with_metered` adds each one's metered spend)."""
    since, until = _ranged(filters)
    if not allocated(filters):
        return {}
    counts = session_counts(connection, filters, [dimension, "mode"])
    everyone = sessions_per_day(connection, _days(since, until))
    fixed = fixed_by_day(config.fixed_costs, since, until)
    extra_cost = extra_by_mode(config)
    per_day: dict[tuple[str | None, dt.date], int] = {}
    extra: dict[tuple[str | None, dt.date], Decimal] = {}
    for (day, value, mode), n in counts.items():
        key = (value, day)
        per_day[key] = per_day.get(key, 0) + n
        if mode in extra_cost:
            extra[key] = extra.get(key, _ZERO) + extra_cost[mode] * n
    out: dict[str | None, dict[dt.date, CostParts]] = {}
    # A share depends on the day and the count alone, and most users start one or two sessions a day:
    # worked out once per (day, count), not once per user and day (25,000 times a page at 1M events).
    shares: dict[tuple[dt.date, int], Decimal] = {}
    for (value, day), n in per_day.items():
        share = shares.get((day, n))
        if share is None:
            share = shares[day, n] = part_of(fixed.get(day, _ZERO), n, everyone.get(day, 0))
        out.setdefault(value, {})[day] = CostParts(extra=extra.get((value, day), _ZERO), fixed=share)
    return out


def with_metered(
    sessions_side: Mapping[str | None, Mapping[dt.date, CostParts]], metered: Mapping[str | None, Decimal]
) -> dict[str | None, CostParts]:
    """Each value's whole cost over the range: its sessions' side summed, and its metered spend."""
    # Summed part by part: adding CostParts made a new object for every day of every value.
    out = {
        key: CostParts(metered.get(key, _ZERO), sum([p.extra for p in days.values()], _ZERO),
                       sum([p.fixed for p in days.values()], _ZERO))
        for key, days in sessions_side.items()
    }  # fmt: skip
    for key, amount in metered.items():
        out.setdefault(key, CostParts(metered=amount))
    return out


@dataclass(frozen=True)
class SessionsCost:
    """What the sessions a filter selects cost in all: their events, their extra cost, their fixed share."""

    sessions: int
    parts: CostParts


def sessions_cost(
    connection: Connection, config: Config, filters: Filters, modes: Sequence[ModeCost] | None = None
) -> SessionsCost:
    """The whole cost of the sessions with events the filters select (started in their range).

    `modes`: the filters' cost per session by mode, when the caller has read it already.
    """
    since, until = _ranged(filters)
    # Per mode: how many sessions and what they cost (nano-dollars). Kept per day, tier and mode when the
    # filters select by no more than those (store/session_starts.py), else from the sessions.
    by_mode = kept_modes(connection, filters) if modes is None else None
    if by_mode is None:
        found = session_costs_by_mode(connection, filters) if modes is None else modes
        by_mode = {m.mode: (m.sessions, to_nanos(m.cost_usd)) for m in found}
    extra_cost = extra_by_mode(config)
    counts = session_counts(connection, filters)
    # Every session of the range's days, as the page's other figures ask for them (one read in the
    # transaction), of which the days the filters' sessions started on.
    everyone = sessions_per_day(connection, _days(since, until))
    fixed = fixed_by_day(config.fixed_costs, since, until)
    share = sum((part_of(fixed[day], n, everyone[day]) for (day,), n in counts.items()), start=_ZERO)
    return SessionsCost(
        sessions=sum(n for n, _ in by_mode.values()),
        parts=CostParts(
            metered=from_nanos(sum(nanos for _, nanos in by_mode.values())) or _ZERO,
            extra=sum((extra_cost.get(mode or "", _ZERO) * n for mode, (n, _) in by_mode.items()), start=_ZERO),
            fixed=share,
        ),
    )


def whole_sort_nanos(
    connection: Connection, config: Config, since: dt.date, until: dt.date
) -> tuple[dict[str, int], dict[str, int]]:
    """What store.session_totals adds to a session's cost to sort by its whole cost: extra per mode and
    the fixed share per start day ('YYYY-MM-DD'), in nano-dollars."""
    extra = {mode: to_nanos(amount) for mode, amount in extra_by_mode(config).items()}
    shares = fixed_share_by_day(connection, config, since, until)
    fixed = {day.isoformat(): to_nanos(share) for day, share in shares.items()}
    return extra, fixed


@dataclass(frozen=True)
class MonthForecast:
    month: str  # YYYY-MM
    to_date: CostParts  # the month so far, today included
    forecast: CostParts  # the month's expected whole cost, part by part
    run_rate: CostParts  # per day


def _project(so_far: Decimal, today: Decimal, rate: Decimal, days_left: int) -> Decimal:
    # The store's forecast rule (store/overview.py): yesterday and before, today at least at the
    # run rate, then the run rate for every day left.
    return quantize((so_far - today) + max(today, rate) + rate * days_left)


def month_forecast(connection: Connection, config: Config, today: dt.date, filters: Filters) -> MonthForecast:
    """Month to date and the month-end forecast of the whole cost, whatever range the filters carry.

    Metered is the store's forecast (store.overview.month_to_date); extra and fixed are projected
    by the same rule at their own run rate over the same last complete days.
    """
    mtd = month_to_date(connection, today, replace(filters, since=None, until=None))
    first = today.replace(day=1)
    start = min(first, today - dt.timedelta(days=RUN_RATE_DAYS))
    whole = whole_cost(connection, config, replace(filters, since=start, until=today))
    month = [p for d, p in whole.by_day.items() if d >= first]
    so_far = sum(month, start=CostParts())
    now = whole.by_day[today]
    # The metered run rate's days: the last complete ones, none before the ledger's first day.
    span = ledger_days(connection)
    oldest = span[0] if span else None
    window = [d for d in _days(today - dt.timedelta(days=RUN_RATE_DAYS), today - dt.timedelta(days=1))
              if oldest is None or d >= oldest]  # fmt: skip
    left = calendar.monthrange(today.year, today.month)[1] - today.day

    def rate(part: str) -> Decimal:
        if not window:
            return getattr(now, part)  # type: ignore[no-any-return]
        return quantize(sum((getattr(whole.by_day[d], part) for d in window), start=_ZERO) / len(window))

    extra_rate = rate("extra")
    # Fixed costs are known ahead: the days left carry their own shares, of which the filters'
    # sessions carry what they carried over the run-rate days (all of it, unfiltered).
    ahead = fixed_by_day(config.fixed_costs, today + dt.timedelta(days=1), _month_days(today.year, today.month)[-1])
    carried = Decimal(1) if allocated(filters) else _ZERO
    if carried and _session_filters(filters):
        everyone = fixed_by_day(config.fixed_costs, window[0], window[-1]) if window else {}
        total = sum(everyone.values(), start=_ZERO)
        mine = sum((whole.by_day[d].fixed for d in window), start=_ZERO)
        carried = mine / total if total else _ZERO
    forecast = CostParts(
        metered=mtd.forecast_usd,
        extra=_project(so_far.extra, now.extra, extra_rate, left),
        fixed=quantize(so_far.fixed + sum(ahead.values(), start=_ZERO) * carried),
    )
    fixed_rate = quantize(sum(ahead.values(), start=_ZERO) * carried / left) if left else now.fixed
    return MonthForecast(
        month=mtd.month,
        to_date=replace(so_far, metered=mtd.cost_usd),
        forecast=forecast,
        run_rate=CostParts(mtd.run_rate_usd, extra_rate, fixed_rate),
    )


__all__ = [
    "SESSION_DIMENSIONS",
    "CostParts",
    "MonthForecast",
    "SessionsCost",
    "WholeCost",
    "allocated",
    "extra_by_mode",
    "fixed_by_day",
    "fixed_share_by_day",
    "month_forecast",
    "part_of",
    "previous_period",
    "session_fixed_share",
    "sessions_cost",
    "sessions_per_day",
    "sessions_side",
    "whole_cost",
    "whole_sort_nanos",
    "with_metered",
]
