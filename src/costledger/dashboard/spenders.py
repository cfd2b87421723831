"""Users and agents over the range: every one of them, sorted by any column, a page at a time, and
the top five's daily trend.

A user's whole cost is their metered spend, the extra cost of their sessions and their
sessions' part of each day's fixed costs. An agent has no sessions of its own: its cost is its
metered spend, and the page says that the extra and fixed costs are not split among agents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from ..ledger import Ledger
from ..store import Filters, queries
from ..store.session_counts import session_counts
from ..total_cost import CostParts, previous_period, sessions_side, whole_cost, with_metered
from .charts import Chart, lines
from .pages import Card, Page, before_label, bounds, money, part_cards, span, window
from .tables import Column, Table, paged, sort_rows

_ZERO = Decimal(0)
TREND_TOP = 5


def _range_cards(ledger: Ledger, ranged: Filters) -> tuple[list[Card], CostParts]:
    since, until = bounds(ranged)
    first, last = previous_period(since, until)
    with ledger.store.engine.connect() as connection:
        whole = whole_cost(connection, ledger.config, ranged)
        before = whole_cost(connection, ledger.config, replace(ranged, since=first, until=last))
    return part_cards(whole.parts, before.parts, before_label(since, until), whole.allocated), whole.parts


def _share(amount: Decimal, total: Decimal) -> Decimal | None:
    return (amount / total).quantize(Decimal("0.0001")) if total else None


USER_COLUMNS = [
    Column("user", "User", link="/sessions?user={user}", priority=1),
    Column("tier", "Tier", priority=3),
    Column("sessions", "Sessions", "count", priority=3),
    Column("events", "Events", "count", priority=3),
    Column("unpriced", "Unpriced", "count"),
    Column("metered_usd", "Metered", "metered", priority=3),
    Column("extra_usd", "Extra", "money", priority=3),
    Column("fixed_usd", "Fixed share", "money", priority=3),
    Column("total_usd", "Total", "money", priority=1),
    Column("share", "Share", "share"),
]


def users_page(ledger: Ledger, filters: Filters, today: dt.date, sort: str, descending: bool, page_number: int) -> Page:
    ranged = window(filters, today)
    since, until = bounds(ranged)
    cards, parts = _range_cards(ledger, ranged)
    with ledger.store.engine.connect() as connection:
        metered = queries.totals(connection, ["user"], ranged)
        tiers: dict[str | None, str | None] = {}
        for t in queries.totals(connection, ["user", "tier"], ranged):
            tiers.setdefault(t.group["user"], t.group["tier"])
        side = sessions_side(connection, ledger.config, ranged, "user")
        held: dict[str | None, int] = {}
        for (_day, user), n in session_counts(connection, ranged, ["user"]).items():
            held[user] = held.get(user, 0) + n
    whole = with_metered(side, {t.group["user"]: t.cost_usd for t in metered})
    counts = {t.group["user"]: t for t in metered}
    rows = []
    for user, p in whole.items():
        found = counts.get(user)
        rows.append({"user": user or "(no user)", "tier": tiers.get(user), "sessions": held.get(user, 0),
                     "events": found.events if found else 0, "unpriced": found.unpriced if found else 0,
                     "metered_usd": p.metered, "extra_usd": p.extra, "fixed_usd": p.fixed, "total_usd": p.total,
                     "share": _share(p.total, parts.total)})  # fmt: skip
    shown, paging = paged(rows, page_number, sort, descending, [c.key for c in USER_COLUMNS])
    page = Page("Users")
    page.cards = [Card("Users", f"{sum(1 for u in whole if u):,}", f"with events {span(since, until)}", "users"),
                  *cards]  # fmt: skip
    top = [r["user"] for r in sort_rows(rows, "total_usd", True) if r["user"] != "(no user)"][:TREND_TOP]
    page.charts = [_trend(ledger, ranged, "user_id", top, side, "user-trend", "users")]
    page.tables = [Table("users", f"Users, {span(since, until)}", USER_COLUMNS, shown, paging=paging,
                         export=lambda: sort_rows(rows, sort, descending),
                         note="Total: metered spend + their sessions' extra cost + their sessions' share of each "
                              "day's fixed costs.")]  # fmt: skip
    return page


AGENT_COLUMNS = [
    Column("agent", "Agent", link="/sessions?agent={agent}", priority=1),
    Column("events", "Events", "count", priority=3),
    Column("unpriced", "Unpriced", "count"),
    Column("cost_usd", "Metered", "metered", priority=1),
    Column("share", "Share of metered", "share"),
]


def agents_page(
    ledger: Ledger, filters: Filters, today: dt.date, sort: str, descending: bool, page_number: int
) -> Page:
    ranged = window(filters, today)
    since, until = bounds(ranged)
    cards, parts = _range_cards(ledger, ranged)
    with ledger.store.engine.connect() as connection:
        metered = queries.totals(connection, ["agent"], ranged)
    total = sum((t.cost_usd for t in metered), start=_ZERO)
    rows = [{"agent": t.group["agent"] or "(no agent)", "events": t.events, "unpriced": t.unpriced,
             "cost_usd": t.cost_usd, "share": _share(t.cost_usd, total)}
            for t in metered]  # fmt: skip
    shown, paging = paged(rows, page_number, sort, descending, [c.key for c in AGENT_COLUMNS])
    page = Page("Agents")
    page.cards = [Card("Agents", f"{sum(1 for t in metered if t.group['agent']):,}",
                       f"with events {span(since, until)}", "agents"), *cards]  # fmt: skip
    top = [r["agent"] for r in sort_rows(rows, "cost_usd", True) if r["agent"] != "(no agent)"][:TREND_TOP]
    page.charts = [_trend(ledger, ranged, "agent", top, {}, "agent-trend", "agents")]
    page.tables = [Table("agents", f"Agents, {span(since, until)}", AGENT_COLUMNS, shown, paging=paging,
                         export=lambda: sort_rows(rows, sort, descending))]  # fmt: skip
    page.notes = [
        f"An agent's cost is its metered spend. The per-session extra cost ({money(parts.extra)}) and the fixed "
        f"costs ({money(parts.fixed)}) of the range belong to sessions, not to an agent, and are not split among "
        "agents: they are in the total above.",
    ]
    return page


def _trend(
    ledger: Ledger,
    ranged: Filters,
    column: str,
    names: list[str],
    side: Mapping[str | None, Mapping[dt.date, CostParts]],
    chart_id: str,
    what: str,
) -> Chart:
    """The daily whole cost (metered, plus the sessions' side for users) of the top few."""
    since, until = bounds(ranged)
    days = (until - since).days + 1
    series = []
    with ledger.store.engine.connect() as connection:
        for name in names:
            trend = queries.daily_trend(connection, days, replace(ranged, dims={**ranged.dims, column: name}),
                                        today=until)  # fmt: skip
            theirs = side.get(name, {})
            values = []
            for t in trend:
                sessions_part = theirs.get(dt.date.fromisoformat(str(t.group["day"])), CostParts())
                values.append(t.cost_usd + sessions_part.extra + sessions_part.fixed)
            series.append((name, values))
    x = [(since + dt.timedelta(days=n)).isoformat() for n in range(days)]
    kind = "whole cost" if side else "metered cost"
    return lines(chart_id, f"Daily {kind} of the top {len(series)} {what}", x, series, dates=True, wide=True)


__all__ = ["agents_page", "users_page"]
