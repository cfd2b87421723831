"""Sessions: the listing (filters, sort by any column, page numbers, every row to CSV), one
session's page, and the search box that jumps to a session or a user.

Each session's whole cost is its metered spend, its session type's extra cost and its share
of its day's fixed costs (the day's share over that day's sessions); the listing sorts by it
in the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from ..ledger import Ledger
from ..store import Filters, queries
from ..store.queries import SessionSummary
from ..store.search import Found, find_ids
from ..store.session_totals import list_whole, stream_sessions
from ..total_cost import (
    extra_by_mode,
    fixed_share_by_day,
    session_fixed_share,
    sessions_cost,
    sessions_per_day,
    whole_sort_nanos,
)
from .charts import bars, lines
from .pages import PAGE_SIZE, PARTS, Card, Page, bounds, money, span, window
from .tables import Column, Paging, Table

_ZERO = Decimal(0)
# The listing's sortable columns → what the store sorts by.
SORTS = {"started_at": "started_at", "minutes": "duration", "events": "events", "unpriced": "unpriced",
         "metered_usd": "metered", "total_usd": "total"}  # fmt: skip
SEARCH_MONTHS = 24

SESSION_COLUMNS = [
    Column("session_id", "Session", link="/sessions/{session_id}", priority=1),
    Column("started_at", "Started (UTC)", "time", priority=3),
    Column("mode", "Mode", link="/sessions?mode={mode}"),
    Column("user_id", "User", link="/sessions?user={user_id}", priority=3),
    Column("total_usd", "Total", "money", priority=1),
    Column("metered_usd", "Metered", "metered", priority=3),
    Column("extra_usd", "Extra", "money", priority=3, sortable=False),
    Column("fixed_usd", "Fixed share", "money", priority=3, sortable=False),
    Column("unpriced", "Unpriced", "count"),
    Column("events", "Events", "count", priority=3),
    Column("minutes", "Minutes", "number", priority=3),
    Column("tier", "Tier", priority=3),
]


def _row(s: SessionSummary, extra: Mapping[str, Decimal], fixed: Mapping[dt.date, Decimal]) -> dict[str, Any]:
    each = extra.get(s.mode or "", _ZERO)
    share = fixed.get(s.started_at.date(), _ZERO)
    return {"session_id": s.session_id, "started_at": s.started_at, "mode": s.mode, "tier": s.tier,
            "user_id": s.user_id, "minutes": Decimal(s.duration_seconds / 60).quantize(Decimal("0.1")),
            "events": s.events, "unpriced": s.unpriced, "metered_usd": s.cost_usd, "extra_usd": each,
            "fixed_usd": share, "total_usd": s.cost_usd + each + share}  # fmt: skip


def sessions_page(
    ledger: Ledger, filters: Filters, today: dt.date, sort: str, descending: bool, page_number: int
) -> Page:
    ranged = window(filters, today)
    since, until = bounds(ranged)
    config = ledger.config
    offset = (max(page_number, 1) - 1) * PAGE_SIZE
    with ledger.store.engine.connect() as connection:
        # The cards first: they read the range's sessions, which then count the sessions of each day
        # (the fixed shares) when nothing but the dates filters (store/range_sessions.py).
        held = sessions_cost(connection, config, ranged)
        extra_nanos, fixed_nanos = whole_sort_nanos(connection, config, since, until)
        found, count = list_whole(connection, ranged, SORTS[sort], descending, PAGE_SIZE, offset,
                                  extra=extra_nanos, fixed=fixed_nanos)  # fmt: skip
        shares = fixed_share_by_day(connection, config, since, until)
    extra = extra_by_mode(config)
    rows = [_row(s, extra, shares) for s in found]

    def every_row() -> Iterator[dict[str, Any]]:
        with ledger.store.engine.connect() as connection:
            for s in stream_sessions(connection, ranged, SORTS[sort], descending, extra=extra_nanos,
                                     fixed=fixed_nanos):  # fmt: skip
                yield _row(s, extra, shares)

    pages = max(1, -(-count // PAGE_SIZE))
    which = "with unpriced events " if ranged.unpriced else ""
    page = Page("Sessions")
    page.cards = [
        Card("Sessions", f"{held.sessions:,}", f"{which}started {span(since, until)}", "count"),
        Card("Their total cost", money(held.parts.total), "metered + extra + fixed share", "total"),
        Card(PARTS["metered"][0], money(held.parts.metered), "their events, priced per use", "metered"),
        Card(PARTS["extra"][0], money(held.parts.extra), PARTS["extra"][1], "extra"),
        Card("Fixed share", money(held.parts.fixed), "each day's fixed costs over that day's sessions", "fixed"),
    ]
    page.tables = [
        Table("sessions", f"Sessions {which}started {span(since, until)}", SESSION_COLUMNS, rows,
              paging=Paging(max(page_number, 1), pages, count, sort, descending, tuple(SORTS)), export=every_row,
              note="Total: metered spend + the session type's extra cost + its share of the day's fixed costs."
              + (" The CSV holds every session that matches, not only this page." if pages > 1 else "")),
    ]  # fmt: skip
    top = sorted(rows, key=lambda r: -r["total_usd"])[:10]
    page.charts = [
        bars("top-sessions", "Most expensive sessions on this page (click: open)", [r["session_id"] for r in top],
             [r["total_usd"] for r in top], [f"/sessions/{r['session_id']}" for r in top], horizontal=True)
    ]  # fmt: skip
    page.extra.update(count=count, held=held, tables_first=True)
    return page


def session_page(ledger: Ledger, session_id: str) -> Page | None:
    with ledger.store.engine.connect() as connection:
        summary = queries.session_summary(connection, session_id)
        if summary is None:
            return None
        found = queries.session_events(connection, session_id)
        day = summary.started_at.date()
        that_day = sessions_per_day(connection, [day])[day]
    extra = extra_by_mode(ledger.config).get(summary.mode or "", _ZERO)
    fixed = session_fixed_share(ledger.config.fixed_costs, day, that_day) if summary.events else _ZERO
    total = summary.cost_usd + extra + fixed
    page = Page(f"Session {session_id}")
    minutes = summary.duration_seconds / 60
    unpriced_note = (
        f"{summary.unpriced:,} unpriced events not in it" if summary.unpriced else f"{summary.events:,} events"
    )
    page.cards = [
        Card("Total cost", money(total), "metered + extra + fixed share", "total"),
        Card("Metered", "unpriced" if summary.unpriced == summary.events and summary.events else
             money(summary.cost_usd), unpriced_note, "metered", summary.unpriced > 0),
        Card("Extra", money(extra), f"{summary.mode or 'no mode'}: extra_cost_usd per session", "extra"),
        Card("Fixed share", money(fixed), f"the day's fixed costs over its {that_day:,} sessions", "fixed"),
        Card("Mode", summary.mode or "—", f"tier {summary.tier or '—'}", "mode",
             href=f"/sessions?mode={summary.mode}" if summary.mode else None),
        Card("User", summary.user_id or "—", "their sessions", "user",
             href=f"/sessions?user={summary.user_id}" if summary.user_id else None),
        Card("Duration", f"{minutes:.1f} min", f"from {summary.started_at:%Y-%m-%d %H:%M} UTC", "duration"),
        Card("Unpriced events", f"{summary.unpriced:,}", "no price known" if summary.unpriced else "", "unpriced",
             summary.unpriced > 0),
    ]  # fmt: skip
    services = sorted(summary.by_service.items(), key=lambda item: -item[1])
    agents = sorted(summary.by_agent.items(), key=lambda item: -item[1])
    cumulative, running = [], _ZERO
    for event in found:
        running += event["cost_usd"] or _ZERO
        cumulative.append(running)
    page.charts = [
        bars("session-agents", "Metered cost by agent", [a or "(no agent)" for a, _ in agents],
             [c for _, c in agents], horizontal=True),
        lines("session-timeline", "Metered cost over the session", [e["ts"].isoformat()[:23] for e in found],
              [("cumulative cost", cumulative)], times=True, wide=True),
    ]  # fmt: skip
    page.tables = [
        Table("events", "Events in time order",
              [Column("ts", "Time (UTC)", "time", priority=1), Column("service", "Service", priority=1),
               Column("model", "Model", priority=3), Column("agent", "Agent", priority=3),
               Column("operation", "Operation", priority=3), Column("usage", "Usage", priority=3, wrap=True),
               Column("cost_usd", "Cost", "metered", priority=1),
               Column("price_ref", "Priced by / why unpriced", priority=3, wrap=True),
               Column("event_id", "Event id", priority=3)],
              [{**e, "usage": _usage_text(e["usage"]), "unpriced": 1 if e["cost_usd"] is None else 0,
                "price_ref": e["price_ref"] or e["unpriced_reason"] or e["cost_source"]} for e in found]),
        Table("by_service", "Metered cost by service",
              [Column("service", "Service", priority=1), Column("cost_usd", "Cost", "money", priority=1)],
              [{"service": s, "cost_usd": c} for s, c in services]),
        Table("by_agent", "Metered cost by agent",
              [Column("agent", "Agent", priority=1), Column("cost_usd", "Cost", "money", priority=1)],
              [{"agent": a or "(no agent)", "cost_usd": c} for a, c in agents]),
    ]  # fmt: skip
    page.extra.update(summary=summary, total=total, extra_usd=extra, fixed_usd=fixed)
    return page


def _usage_text(usage: dict[str, Any]) -> str:
    return ", ".join(f"{meter} {value}" for meter, value in usage.items() if value)


def search(ledger: Ledger, text: str, today: dt.date) -> tuple[str | None, Found]:
    """Where a search jumps: the session with that id, else the one user or session it starts; else the
    matches to choose from (target None)."""
    first = today.replace(day=1)
    months = []
    for _ in range(SEARCH_MONTHS):
        months.append(f"{first:%Y-%m}")
        first = (first - dt.timedelta(days=1)).replace(day=1)
    with ledger.store.engine.connect() as connection:
        found = find_ids(connection, text, months)
    from urllib.parse import quote

    wanted = text.strip()
    if wanted in found.sessions:
        return f"/sessions/{quote(wanted, safe='')}", found
    if wanted in found.users:
        return f"/users?user={quote(wanted, safe='')}", found
    if len(found.sessions) + len(found.users) == 1:
        if found.sessions:
            return f"/sessions/{quote(found.sessions[0], safe='')}", found
        return f"/users?user={quote(found.users[0], safe='')}", found
    return None, found


def search_page(text: str, found: Found) -> Page:
    page = Page("Search")
    page.tables = [
        Table("found_sessions", f"Sessions whose id starts with “{text}”",
              [Column("session_id", "Session", link="/sessions/{session_id}", priority=1)],
              [{"session_id": s} for s in found.sessions], note="" if found.sessions else "No session."),
        Table("found_users", f"Users whose id starts with “{text}”",
              [Column("user", "User", link="/users?user={user}", priority=1)],
              [{"user": u} for u in found.users], note="" if found.users else "No user."),
    ]  # fmt: skip
    return page


__all__ = ["SESSION_COLUMNS", "SORTS", "search", "search_page", "session_page", "sessions_page"]
