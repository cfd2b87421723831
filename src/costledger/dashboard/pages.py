"""What each dashboard page shows, built from the library: no HTTP here, so the same
numbers can be checked against the API and the store directly.

The month's figures (today, month to date, forecast, per service, mode and tier) come
from `store.overview`; trends from the rollups; sessions from the sessions table. The
date range applies to trends and lists; dimension filters (tier, mode, agent,
service, user) apply to everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..dates import FIRST_DAY
from ..ledger import Ledger
from ..store import Filters, queries
from .charts import Chart, bars, donut, lines
from .tables import Column, Table

DEFAULT_DAYS = 90
PAGE_SIZE = 50
_ZERO = Decimal(0)

# What the service breakdown calls each service: LLM vs speech vs rooms vs payments.
KIND_OF_SERVICE = {
    "anthropic": "LLM", "openai": "LLM", "google": "LLM", "mistral": "LLM", "groq": "LLM",
    "deepgram": "STT", "assemblyai": "STT", "cartesia": "TTS", "elevenlabs": "TTS",
    "livekit": "rooms", "stripe": "payments",
}  # fmt: skip


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    note: str = ""
    key: str = ""  # a stable name tests and scripts can find the card by
    warn: bool = False


@dataclass
class Page:
    title: str
    cards: list[Card] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def window(filters: Filters, today: dt.date, days: int = DEFAULT_DAYS) -> Filters:
    """The filters with a date range: the one asked for, else the `days` up to today."""
    until = filters.until or today
    since = filters.since or max(until - dt.timedelta(days=days - 1), FIRST_DAY)
    return replace(filters, since=since, until=until)


def money(amount: Decimal | None) -> str:
    return "—" if amount is None else f"${amount.quantize(Decimal('0.01')):,}"


# -- overview -------------------------------------------------------------------------------------


def overview_page(ledger: Ledger, filters: Filters, today: dt.date, open_alerts: int | None) -> Page:
    ranged = window(filters, today)
    assert ranged.since is not None and ranged.until is not None
    with ledger.store.engine.connect() as connection:
        view = queries.overview(connection, today, filters)
        days = (ranged.until - ranged.since).days + 1
        daily = queries.daily_trend(connection, days, ranged, today=ranged.until)
    # Weeks and months are sums of the days already read: one pass over the rollups, not three.
    weekly = regroup(daily, "week", lambda day: (day - dt.timedelta(days=day.weekday())).isoformat())
    monthly = regroup(daily, "month", lambda day: day.isoformat()[:7])
    mtd = view.month
    page = Page("Overview")
    page.cards = [
        Card("Today", money(mtd.today_usd), f"{mtd.today_events:,} events", "today"),
        Card("Month to date", money(mtd.cost_usd), f"{mtd.month}, {mtd.events:,} events", "month"),
        Card("Month-end forecast", money(mtd.forecast_usd), f"run rate {money(mtd.run_rate_usd)}/day", "forecast"),
        Card("Average per session", money(view.avg_session_usd), f"{view.sessions:,} sessions this month", "avg"),
        Card("Unpriced events", f"{view.unpriced:,}", "this month: no price known", "unpriced", view.unpriced > 0),
        Card(
            "Open alerts",
            "—" if open_alerts is None else f"{open_alerts:,}",
            "alerts not configured" if open_alerts is None else "not acknowledged",
            "alerts",
            bool(open_alerts),
        ),
    ]
    page.charts = [
        lines("trend-daily", f"Daily cost, {ranged.since} to {ranged.until}", [t.group["day"] or "" for t in daily],
              [("cost", [t.cost_usd for t in daily])]),
        lines("trend-weekly", "Weekly cost (weeks start Monday)", [t.group["week"] or "" for t in weekly],
              [("cost", [t.cost_usd for t in weekly])], bar=True),
        lines("trend-monthly", "Monthly cost", [t.group["month"] or "" for t in monthly],
              [("cost", [t.cost_usd for t in monthly])], bar=True),
        donut("by-kind", f"Where the money goes, {mtd.month}", *_by_kind(view.by_service)),
        bars("by-mode", f"Average cost per session by mode, {mtd.month} (click: its sessions)",
             [m.mode or "(none)" for m in view.by_mode], [m.avg_usd for m in view.by_mode],
             [f"/sessions?mode={m.mode}" if m.mode else None for m in view.by_mode]),
        bars("by-tier", f"Cost per user by tier, {mtd.month}", [t.tier or "(none)" for t in view.by_tier],
             [t.per_user_usd for t in view.by_tier]),
    ]  # fmt: skip
    page.tables = [
        Table("services", f"By service, {mtd.month}",
              [Column("service", "Service"), Column("kind", "Kind"), Column("events", "Events", "count"),
               Column("cost_usd", "Cost", "money"), Column("share", "Share", "share")],
              [{"service": s.service, "kind": KIND_OF_SERVICE.get(s.service, "other"), "events": s.events,
                "cost_usd": s.cost_usd, "share": s.share} for s in view.by_service]),
        Table("modes", f"Cost per session by mode, {mtd.month}",
              [Column("mode", "Mode", link="/sessions?mode={mode}"), Column("sessions", "Sessions", "count"),
               Column("avg_usd", "Average", "money"), Column("p50_usd", "p50", "money"),
               Column("p90_usd", "p90", "money"), Column("cost_usd", "Total", "money")],
              [{"mode": m.mode, "sessions": m.sessions, "avg_usd": m.avg_usd, "p50_usd": m.p50_usd,
                "p90_usd": m.p90_usd, "cost_usd": m.cost_usd} for m in view.by_mode]),
        Table("tiers", f"Cost per user by tier, {mtd.month}",
              [Column("tier", "Tier"), Column("users", "Users", "count"), Column("per_user_usd", "Per user", "money"),
               Column("cost_usd", "Total", "money")],
              [{"tier": t.tier, "users": t.users, "per_user_usd": t.per_user_usd, "cost_usd": t.cost_usd}
               for t in view.by_tier]),
        Table("daily", "Daily trend",
              [Column("day", "Day"), Column("events", "Events", "count"), Column("unpriced", "Unpriced", "count"),
               Column("cost_usd", "Cost", "money")],
              [{"day": t.group["day"], "events": t.events, "unpriced": t.unpriced, "cost_usd": t.cost_usd}
               for t in reversed(daily)]),
    ]  # fmt: skip
    page.extra["overview"] = view
    return page


def regroup(daily: list[queries.Total], unit: str, period: Callable[[dt.date], str]) -> list[queries.Total]:
    """Daily totals summed into weeks (named by their Monday, as the store names them) or months."""
    out: dict[str, list[Any]] = {}
    for t in daily:
        if not t.events:
            continue
        bucket = out.setdefault(period(dt.date.fromisoformat(str(t.group["day"]))), [0, 0, _ZERO])
        bucket[0] += t.events
        bucket[1] += t.unpriced
        bucket[2] += t.cost_usd
    return [queries.Total({unit: key}, n, u, cost) for key, (n, u, cost) in sorted(out.items())]


def _by_kind(services: list[queries.ServiceShare]) -> tuple[list[str], list[Decimal]]:
    kinds: dict[str, Decimal] = {}
    for s in services:
        kind = KIND_OF_SERVICE.get(s.service, "other")
        kinds[kind] = kinds.get(kind, _ZERO) + s.cost_usd
    ordered = sorted(kinds.items(), key=lambda item: -item[1])
    return [k for k, _ in ordered], [v for _, v in ordered]


# -- sessions ---------------------------------------------------------------------------------------


SESSION_COLUMNS = [
    Column("session_id", "Session", link="/sessions/{session_id}"),
    Column("started_at", "Started (UTC)", "time"),
    Column("mode", "Mode"),
    Column("tier", "Tier"),
    Column("user_id", "User", link="/sessions?user={user_id}"),
    Column("minutes", "Minutes"),
    Column("events", "Events", "count"),
    Column("unpriced", "Unpriced", "count"),
    Column("cost_usd", "Cost", "money"),
]


def sessions_page(
    ledger: Ledger, filters: Filters, today: dt.date, sort: str, descending: bool, page_number: int
) -> Page:
    ranged = window(filters, today)
    offset = (max(page_number, 1) - 1) * PAGE_SIZE
    with ledger.store.engine.connect() as connection:
        found, count = queries.list_sessions(connection, ranged, sort, descending, PAGE_SIZE, offset)
    rows = [
        {"session_id": s.session_id, "started_at": s.started_at.replace(tzinfo=None).isoformat(), "mode": s.mode,
         "tier": s.tier, "user_id": s.user_id, "minutes": f"{s.duration_seconds / 60:.1f}", "events": s.events,
         "unpriced": s.unpriced, "cost_usd": s.cost_usd}
        for s in found
    ]  # fmt: skip
    page = Page("Sessions")
    page.tables = [Table("sessions", f"Sessions started {ranged.since} to {ranged.until}", SESSION_COLUMNS, rows)]
    top = sorted(found, key=lambda s: -s.cost_usd)[:15]
    page.charts = [
        bars("top-sessions", "Most expensive sessions on this page (click: open)", [s.session_id for s in top],
             [s.cost_usd for s in top], [f"/sessions/{s.session_id}" for s in top])
    ]  # fmt: skip
    page.extra.update(count=count, page=max(page_number, 1), pages=max(1, -(-count // PAGE_SIZE)))
    return page


def session_page(ledger: Ledger, session_id: str) -> Page | None:
    with ledger.store.engine.connect() as connection:
        summary = queries.session_summary(connection, session_id)
        if summary is None:
            return None
        found = queries.session_events(connection, session_id)
    page = Page(f"Session {session_id}")
    minutes = summary.duration_seconds / 60
    page.cards = [
        Card("Cost", money(summary.cost_usd), f"{summary.events:,} events", "cost"),
        Card("Mode", summary.mode or "—", f"tier {summary.tier or '—'}", "mode"),
        Card("User", summary.user_id or "—", "", "user"),
        Card("Duration", f"{minutes:.1f} min", f"from {summary.started_at:%Y-%m-%d %H:%M} UTC", "duration"),
        Card("Unpriced events", f"{summary.unpriced:,}", "", "unpriced", summary.unpriced > 0),
    ]
    services = sorted(summary.by_service.items(), key=lambda item: -item[1])
    agents = sorted(summary.by_agent.items(), key=lambda item: -item[1])
    cumulative, running = [], _ZERO
    for event in found:
        running += event["cost_usd"] or _ZERO
        cumulative.append(running)
    page.charts = [
        bars("session-agents", "Cost by agent", [a or "(no agent)" for a, _ in agents], [c for _, c in agents]),
        lines("session-timeline", "Cost over the session", [e["ts"].isoformat()[:19] for e in found],
              [("cumulative cost", cumulative)]),
    ]  # fmt: skip
    page.tables = [
        Table("events", "Events in time order",
              [Column("ts", "Time (UTC)", "time"), Column("service", "Service"), Column("model", "Model"),
               Column("agent", "Agent"), Column("operation", "Operation"), Column("usage", "Usage"),
               Column("cost_usd", "Cost", "money"), Column("price_ref", "Priced by / why unpriced"),
               Column("event_id", "Event id")],
              [{**e, "ts": e["ts"].isoformat(), "usage": _usage_text(e["usage"]),
                "price_ref": e["price_ref"] or e["unpriced_reason"] or e["cost_source"]} for e in found]),
        Table("by_service", "By service", [Column("service", "Service"), Column("cost_usd", "Cost", "money")],
              [{"service": s, "cost_usd": c} for s, c in services]),
        Table("by_agent", "By agent", [Column("agent", "Agent"), Column("cost_usd", "Cost", "money")],
              [{"agent": a or "(no agent)", "cost_usd": c} for a, c in agents]),
    ]  # fmt: skip
    page.extra["summary"] = summary
    return page


def _usage_text(usage: dict[str, Any]) -> str:
    return ", ".join(f"{meter} {value}" for meter, value in usage.items() if value)


# -- users and agents -----------------------------------------------------------------------------


def spenders_page(ledger: Ledger, filters: Filters, today: dt.date, dimension: str, limit: int = 25) -> Page:
    """Top users (dimension "user") or agents ("agent") over the range, the top five's daily trend."""
    ranged = window(filters, today)
    assert ranged.since is not None and ranged.until is not None
    column = "user_id" if dimension == "user" else dimension
    with ledger.store.engine.connect() as connection:
        everyone = queries.totals(connection, [], ranged)
        total = everyone[0].cost_usd if everyone else _ZERO
        ranked = queries.top(connection, dimension, limit, ranged)
        tiers: dict[str | None, str | None] = {}
        if dimension == "user":
            for t in queries.totals(connection, ["user", "tier"], ranged):
                tiers.setdefault(t.group["user"], t.group["tier"])
        days = (ranged.until - ranged.since).days + 1
        series = [
            (str(t.group[dimension]), queries.daily_trend(
                connection, days, replace(ranged, dims={**ranged.dims, column: str(t.group[dimension])}),
                today=ranged.until))
            for t in ranked[:5]
        ]  # fmt: skip
    name = "Users" if dimension == "user" else "Agents"
    page = Page(name)
    x = [t.group["day"] or "" for t in series[0][1]] if series else []
    page.charts = [lines(f"{dimension}-trend", f"Daily cost of the top {len(series)} {name.lower()}", x,
                         [(label, [t.cost_usd for t in trend]) for label, trend in series])]  # fmt: skip
    columns = [Column(dimension, name[:-1], link=f"/sessions?{dimension}={{{dimension}}}")]
    if dimension == "user":
        columns.append(Column("tier", "Tier"))
    columns += [Column("events", "Events", "count"), Column("unpriced", "Unpriced", "count"),
                Column("cost_usd", "Cost", "money"), Column("share", "Share", "share")]  # fmt: skip
    rows = [
        {dimension: t.group[dimension], "tier": tiers.get(t.group[dimension]), "events": t.events,
         "unpriced": t.unpriced, "cost_usd": t.cost_usd,
         "share": (t.cost_usd / total).quantize(Decimal("0.0001")) if total else _ZERO}
        for t in ranked
    ]  # fmt: skip
    page.tables = [Table(f"top_{dimension}s", f"Top {name.lower()}, {ranged.since} to {ranged.until}", columns, rows)]
    return page
