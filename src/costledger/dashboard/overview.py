"""The overview: the whole cost of the selected range split into its parts, against the previous
period of the same length, where it goes (kinds of service, models, modes, tiers) and the trend.

Every figure follows the range and the filters; the month-to-date and forecast cards are the
month of today, and say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from ..ledger import Ledger
from ..money import quantize
from ..store import Filters, queries
from ..store.session_modes import month_sessions
from ..total_cost import (
    CostParts,
    WholeCost,
    extra_by_mode,
    month_forecast,
    previous_period,
    sessions_cost,
    sessions_side,
    whole_cost,
    with_metered,
)
from .charts import PART_COLORS, bars, donut, month_label, stacked, week_label
from .margins_page import at_limit_rows, plans_card
from .pages import KIND_OF_SERVICE, PARTS, Card, Page, before_label, bounds, delta, money, part_cards, span, window
from .tables import Column, Table

_ZERO = Decimal(0)
TOP_MODELS = 10
# The parts of the whole cost keep their colours of the trend charts; kinds of service take others.
KIND_COLORS = {"LLM": "#3867d6", "STT": "#20bf6b", "TTS": "#0fb9b1", "rooms": "#f7b731", "payments": "#eb3b5a",
               "phone": "#4b6584", "other": "#a5b1c2", "per-session extra": PART_COLORS["extra"],
               "fixed costs": PART_COLORS["fixed"]}  # fmt: skip


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    parts: CostParts
    partial: bool  # the range (or the clock) covers only some of its days


def periods(by_day: Mapping[dt.date, CostParts], today: dt.date, unit: str) -> list[Period]:
    """The range's days summed into weeks (Monday to Sunday) or calendar months."""
    if not by_day:
        return []
    first, last = min(by_day), max(by_day)

    def start_of(day: dt.date) -> dt.date:
        return day - dt.timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)

    def end_of(start: dt.date) -> dt.date:
        if unit == "week":
            return start + dt.timedelta(days=6)
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)

    sums: dict[dt.date, CostParts] = {}
    for day, parts in by_day.items():
        sums[start_of(day)] = sums.get(start_of(day), CostParts()) + parts
    out = []
    for start, parts in sorted(sums.items()):
        end = end_of(start)
        partial = start < first or end > last or end >= today
        label = week_label(start, partial) if unit == "week" else month_label(start, partial)
        out.append(Period(label, start, parts, partial))
    return out


def _series(items: list[CostParts], allocated: bool) -> list[tuple[str, list[Decimal]]]:
    names = ("metered", "extra", "fixed") if allocated else ("metered",)
    return [(PARTS[name][0], [getattr(p, name) for p in items]) for name in names]


def _colors(allocated: bool) -> list[str]:
    return [PART_COLORS[n] for n in (("metered", "extra", "fixed") if allocated else ("metered",))]


def link(path: str, filters: Filters, **more: Any) -> str:
    """A link to another page with the same range and filters (and `more`)."""
    params: dict[str, Any] = {"since": filters.since, "until": filters.until}
    params.update({("user" if k == "user_id" else k): v for k, v in filters.dims.items()})
    params.update(more)
    return path + "?" + urlencode({k: str(v) for k, v in params.items() if v not in (None, "")})


def overview_page(ledger: Ledger, filters: Filters, today: dt.date, open_alerts: int | None) -> Page:
    ranged = window(filters, today)
    since, until = bounds(ranged)
    first, last = previous_period(since, until)
    before_range = replace(ranged, since=first, until=last)
    config = ledger.config
    with ledger.store.engine.connect() as connection:
        # The sessions of each range first: one read of each serves every session figure that follows
        # (costs by mode, counts by day, mode and tier, the month to date, the plans at their limit).
        by_mode, users_per_tier = month_sessions(connection, ranged)
        held_before = sessions_cost(connection, config, before_range)
        whole = whole_cost(connection, config, ranged)
        before = whole_cost(connection, config, before_range)
        month = month_forecast(connection, config, today, ranged)
        services = queries.totals(connection, ["service"], ranged)
        models = queries.totals(connection, ["service", "model"], ranged)
        held = sessions_cost(connection, config, ranged, by_mode)
        tiers = with_metered(
            sessions_side(connection, config, ranged, "tier"),
            {t.group["tier"]: t.cost_usd for t in queries.totals(connection, ["tier"], ranged)},
        )
        limits = at_limit_rows(ledger, since, until, connection) if config.plans else []
    period = before_label(since, until)
    total = whole.parts.total
    page = Page("Overview")
    page.extra.update(whole=whole, before=before, month=month, sessions=held)
    avg = quantize(held.parts.total / held.sessions) if held.sessions else None
    avg_before = quantize(held_before.parts.total / held_before.sessions) if held_before.sessions else None
    avg_delta = delta(avg, avg_before, period) if avg is not None and avg_before is not None else ("", "")
    unpriced_link = link("/sessions", ranged, unpriced="1")
    page.cards = [
        *part_cards(whole.parts, before.parts, period, whole.allocated),
        Card("Sessions", f"{held.sessions:,}", f"average {money(avg)} each, whole cost", "sessions",
             delta=avg_delta[0] and f"average {avg_delta[0]}", tone=avg_delta[1],
             href=link("/sessions", ranged)),
        *([plans_card(limits, link("/margins", replace(ranged, dims={})))] if config.plans else []),
        Card("Unpriced events", f"{whole.unpriced:,}",
             "no price known: see their sessions" if whole.unpriced else "every event priced", "unpriced",
             whole.unpriced > 0, href=unpriced_link if whole.unpriced else "/prices#unknown"),
        Card("Open alerts", "—" if open_alerts is None else f"{open_alerts:,}",
             "alerts not configured" if open_alerts is None else "not acknowledged: see the rules", "alerts",
             bool(open_alerts), href="/alerts"),
        Card(f"Month to date, {dt.date.fromisoformat(month.month + '-01'):%b %Y}", money(month.to_date.total),
             f"metered {money(month.to_date.metered)}; the month of today, whatever the range", "month"),
        Card("Month-end forecast", money(month.forecast.total),
             f"run rate {money(month.run_rate.total)}/day; metered {money(month.forecast.metered)}", "forecast"),
    ]  # fmt: skip
    page.notes = _notes(ledger, whole.allocated)
    days = sorted(whole.by_day)
    daily_partial = [d >= today for d in days]
    weeks, months = periods(whole.by_day, today, "week"), periods(whole.by_day, today, "month")
    kinds = _by_kind(services, whole.parts)
    top_models = models[:TOP_MODELS]
    mode_rows = _mode_rows(by_mode, extra_by_mode(config))
    with_users = sorted((t for t in tiers if users_per_tier.get(t)), key=lambda t: t or "")
    page.charts = [
        donut("by-kind", f"Where the money goes, {span(since, until)}", [k for k, _ in kinds], [v for _, v in kinds],
              colors=[KIND_COLORS.get(k, "#4b6584") for k, _ in kinds]),
        stacked("trend-daily", f"Daily cost, {span(since, until)}", [d.isoformat() for d in days],
                _series([whole.by_day[d] for d in days], whole.allocated), partial=daily_partial, dates=True,
                colors=_colors(whole.allocated), double=True,
                note="today is still going (paler)" if today in whole.by_day else ""),
        stacked("trend-weekly", "Weekly cost (weeks start Monday)", [w.label for w in weeks],
                _series([w.parts for w in weeks], whole.allocated), partial=[w.partial for w in weeks],
                colors=_colors(whole.allocated), note="paler: a week the range covers in part"),
        stacked("trend-monthly", "Monthly cost", [m.label for m in months],
                _series([m.parts for m in months], whole.allocated), partial=[m.partial for m in months],
                colors=_colors(whole.allocated), note="paler: a month the range covers in part"),
        bars("by-model", f"Metered cost by model (top {len(top_models)})", [_model_label(t) for t in top_models],
             [t.cost_usd for t in top_models], horizontal=True,
             texts=["unpriced" if t.unpriced and not t.cost_usd else None for t in top_models]),
        bars("by-mode", "Average cost per session by mode, its extra cost included (click: its sessions)",
             [r["mode"] or "(none)" for r in mode_rows], [r["avg_usd"] for r in mode_rows],
             [link("/sessions", ranged, mode=r["mode"]) if r["mode"] else None for r in mode_rows], horizontal=True),
        bars("by-tier", "Whole cost per user by tier", [t or "(none)" for t in with_users],
             [_per_user(tiers[t], users_per_tier[t]) for t in with_users], horizontal=True),
    ]  # fmt: skip
    page.tables = [
        _parts_table(whole.parts, before.parts, span(first, last), whole.allocated),
        _services_table(services, total, since, until),
        _models_table(models, total, since, until),
        Table("modes", "Cost per session by mode",
              [Column("mode", "Mode", link="/sessions?mode={mode}", priority=1),
               Column("sessions", "Sessions", "count"),
               Column("metered_avg_usd", "Metered avg", "money", priority=3),
               Column("extra_usd", "Extra each", "money", priority=3),
               Column("avg_usd", "Average", "money", priority=1),
               Column("p50_usd", "p50", "money"), Column("p90_usd", "p90", "money", priority=3),
               Column("cost_usd", "Total", "money")], mode_rows,
              note="Per session: its metered spend plus its session type's extra cost (fixed costs apart)."),
        Table("tiers", "Whole cost per user by tier",
              [Column("tier", "Tier", priority=1), Column("users", "Users", "count"),
               Column("metered_usd", "Metered", "money", priority=3), Column("extra_usd", "Extra", "money", priority=3),
               Column("fixed_usd", "Fixed", "money", priority=3), Column("total_usd", "Total", "money"),
               Column("per_user_usd", "Per user", "money", priority=1)],
              [{"tier": t, "users": users_per_tier.get(t, 0), "metered_usd": p.metered, "extra_usd": p.extra,
                "fixed_usd": p.fixed, "total_usd": p.total,
                "per_user_usd": _per_user(p, users_per_tier[t]) if users_per_tier.get(t) else None}
               for t, p in sorted(tiers.items(), key=lambda item: (item[0] is None, item[0] or ""))],
              note="Users: those with a session in the range."),
        _daily_table(whole),
    ]  # fmt: skip
    return page


# The overview's tables that need no session of the range (its costs by mode and users per tier, the
# range before it, the plans at their limit: nine tenths of the page at 1M events): a CSV of one of
# them reads only what it shows.
_WITHOUT_SESSIONS = ("parts", "services", "models", "daily")


def overview_table(ledger: Ledger, filters: Filters, today: dt.date, name: str) -> Table | None:
    """One table of the overview, as overview_page builds it, reading only what that table shows."""
    if name not in _WITHOUT_SESSIONS:
        return overview_page(ledger, filters, today, None).table(name)
    ranged = window(filters, today)
    since, until = bounds(ranged)
    first, last = previous_period(since, until)
    config = ledger.config
    with ledger.store.engine.connect() as connection:
        whole = whole_cost(connection, config, ranged)
        if name == "parts":
            before = whole_cost(connection, config, replace(ranged, since=first, until=last))
            return _parts_table(whole.parts, before.parts, span(first, last), whole.allocated)
        if name == "daily":
            return _daily_table(whole)
        if name == "services":
            return _services_table(queries.totals(connection, ["service"], ranged), whole.parts.total, since, until)
        return _models_table(queries.totals(connection, ["service", "model"], ranged), whole.parts.total, since, until)


def _services_table(services: list[queries.Total], total: Decimal, since: dt.date, until: dt.date) -> Table:
    return Table("services", f"By service, {span(since, until)}",
                 [Column("service", "Service", priority=1), Column("kind", "Kind", priority=3),
                  Column("events", "Events", "count", priority=3), Column("unpriced", "Unpriced", "count"),
                  Column("cost_usd", "Cost", "metered", priority=1), Column("share", "Share of total", "share")],
                 [{"service": t.group["service"], "kind": KIND_OF_SERVICE.get(t.group["service"] or "", "other"),
                   "events": t.events, "unpriced": t.unpriced, "cost_usd": t.cost_usd,
                   "share": _share(t.cost_usd, total)} for t in services],
                 note="Metered spend of each service; the share is of the total cost, extra and fixed "
                      "included.")  # fmt: skip


def _models_table(models: list[queries.Total], total: Decimal, since: dt.date, until: dt.date) -> Table:
    return Table("models", f"By model, {span(since, until)}",
                 [Column("service", "Service", priority=1), Column("model", "Model", priority=1),
                  Column("events", "Events", "count", priority=3), Column("unpriced", "Unpriced", "count"),
                  Column("cost_usd", "Cost", "metered", priority=1), Column("share", "Share of total", "share")],
                 [{"service": t.group["service"], "model": t.group["model"] or "(no model)", "events": t.events,
                   "unpriced": t.unpriced, "cost_usd": t.cost_usd, "share": _share(t.cost_usd, total)}
                  for t in models])  # fmt: skip


def _daily_table(whole: WholeCost) -> Table:
    return Table("daily", "Day by day",
                 [Column("day", "Day", priority=1), Column("events", "Events", "count", priority=3),
                  Column("unpriced", "Unpriced", "count", priority=3), Column("metered_usd", "Metered", "money"),
                  Column("extra_usd", "Extra", "money", priority=3), Column("fixed_usd", "Fixed", "money", priority=3),
                  Column("total_usd", "Total", "money", priority=1)],
                 _daily_rows(whole))  # fmt: skip


def _model_label(t: queries.Total) -> str:
    service, model = t.group["service"] or "", t.group["model"]
    if model is None:
        return f"{service} (no model)"
    return model if KIND_OF_SERVICE.get(service) == "LLM" else f"{service} {model}"


def _share(amount: Decimal, total: Decimal) -> Decimal | None:
    return (amount / total).quantize(Decimal("0.0001")) if total else None


def _per_user(parts: CostParts, users: int) -> Decimal:
    return quantize(parts.total / users)


def _by_kind(services: list[queries.Total], parts: CostParts) -> list[tuple[str, Decimal]]:
    kinds: dict[str, Decimal] = {}
    for t in services:
        kind = KIND_OF_SERVICE.get(t.group["service"] or "", "other")
        kinds[kind] = kinds.get(kind, _ZERO) + t.cost_usd
    ordered = sorted(kinds.items(), key=lambda item: -item[1])
    for name, amount in (("per-session extra", parts.extra), ("fixed costs", parts.fixed)):
        if amount:
            ordered.append((name, amount))
    return ordered


def _mode_rows(by_mode: list[queries.ModeCost], extra: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    rows = []
    for m in by_mode:
        each = extra.get(m.mode or "", _ZERO)
        rows.append({"mode": m.mode, "sessions": m.sessions, "metered_avg_usd": m.avg_usd, "extra_usd": each,
                     "avg_usd": m.avg_usd + each, "p50_usd": m.p50_usd + each, "p90_usd": m.p90_usd + each,
                     "cost_usd": m.cost_usd + each * m.sessions})  # fmt: skip
    return rows


def _parts_table(now: CostParts, before: CostParts, period: str, allocated: bool) -> Table:
    rows = []
    for key in ("metered", "extra", "fixed", "total"):
        label, what = PARTS.get(key, ("Total cost", "the sum of the three"))
        amount, earlier = getattr(now, key), getattr(before, key)
        rows.append({"part": label, "what": what if allocated or key in ("metered", "total") else
                     "not split under a service, agent or model filter", "amount_usd": amount,
                     "previous_usd": earlier, "change_usd": amount - earlier})  # fmt: skip
    return Table("parts", "The whole cost, part by part",
                 [Column("part", "Part", priority=1), Column("what", "What it is", priority=3, wrap=True),
                  Column("amount_usd", "This period", "money", priority=1),
                  Column("previous_usd", f"Previous ({period})", "money"),
                  Column("change_usd", "Change", "money", priority=3)], rows)  # fmt: skip


def _daily_rows(whole: WholeCost) -> list[dict[str, Any]]:
    rows = []
    for day in sorted(whole.by_day, reverse=True):
        events, unpriced = whole.counts_by_day.get(day, (0, 0))
        parts = whole.by_day[day]
        rows.append({"day": day.isoformat(), "events": events, "unpriced": unpriced, "metered_usd": parts.metered,
                     "extra_usd": parts.extra, "fixed_usd": parts.fixed, "total_usd": parts.total})  # fmt: skip
    return rows


def _notes(ledger: Ledger, allocated: bool) -> list[str]:
    out = [
        "Metered spend: the recorded events, each priced from the catalog (payments' fees included).",
        "Per-session extra: each session type's extra_cost_usd in costledger.toml (a human expert, say), once per "
        "session, on the day it started.",
        "Fixed costs: each month's [[fixed_costs]] split equally over its days; a filter by user, tier or mode "
        "carries the part of each day's share its sessions are of that day's sessions.",
    ]
    if not allocated:
        out.append("Under a service, agent or model filter only metered spend is counted: extra and fixed costs "
                   "belong to sessions.")  # fmt: skip
    if not ledger.config.fixed_costs and not extra_by_mode(ledger.config):
        out.append("No [[fixed_costs]] and no session type with extra_cost_usd are configured: the total is the "
                   "metered spend.")  # fmt: skip
    return out


__all__ = ["Period", "link", "overview_page", "overview_table", "periods"]
