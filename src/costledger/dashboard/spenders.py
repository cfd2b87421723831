"""Users and agents over the range: every one of them, sorted by any column, a page at a time, and
the ten costliest, each bar split into its parts.

A user's whole cost is their metered spend, the extra cost of their sessions and their
sessions' part of each day's fixed costs. An agent has no sessions of its own: its cost is its
metered spend, and the page says that the extra and fixed costs are not split among agents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from ..ledger import Ledger
from ..store import Filters, queries
from ..store.session_counts import session_counts
from ..total_cost import CostParts, previous_period, sessions_side, whole_cost, with_metered
from .charts import PART_COLORS, Chart, split_bars
from .pages import Card, Page, before_label, bounds, money, part_cards, span, window
from .tables import Column, Table, paged, sort_rows

_ZERO = Decimal(0)
TOP = 10


def _range_cards(connection: Connection, ledger: Ledger, ranged: Filters) -> tuple[list[Card], CostParts]:
    """The cost cards of the range against the period before, read in the page's own transaction (one
    snapshot for cards and table; session counts read once, store/session_counts.py)."""
    since, until = bounds(ranged)
    first, last = previous_period(since, until)
    whole = whole_cost(connection, ledger.config, ranged)
    before = whole_cost(connection, ledger.config, replace(ranged, since=first, until=last))
    return part_cards(whole.parts, before.parts, before_label(since, until), whole.allocated), whole.parts


def _share(amount: Decimal, total: Decimal) -> Decimal | None:
    return (amount / total).quantize(Decimal("0.0001")) if total else None


USER_COLUMNS = [
    Column("user", "User", link="/sessions?user={user}", priority=1, blank="(no user)"),
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
    with ledger.store.engine.connect() as connection:
        # The per-user counts first: they read the range's sessions, which the cards' counts then reuse.
        side = sessions_side(connection, ledger.config, ranged, "user")
        held: dict[str | None, int] = {}
        # The counts sessions_side has just read (by day, user and mode), not counted again by day and user.
        for (_day, user, _mode), n in session_counts(connection, ranged, ["user", "mode"]).items():
            held[user] = held.get(user, 0) + n
        cards, parts = _range_cards(connection, ledger, ranged)
        metered = queries.totals(connection, ["user"], ranged)
        tiers: dict[str | None, str | None] = {}
        for t in queries.totals(connection, ["user", "tier"], ranged):
            tiers.setdefault(t.group["user"], t.group["tier"])
    whole = with_metered(side, {t.group["user"]: t.cost_usd for t in metered})
    counts = {t.group["user"]: t for t in metered}
    rows = []
    for user, p in whole.items():
        found = counts.get(user)
        rows.append({"user": user, "tier": tiers.get(user), "sessions": held.get(user, 0),
                     "events": found.events if found else 0, "unpriced": found.unpriced if found else 0,
                     "metered_usd": p.metered, "extra_usd": p.extra, "fixed_usd": p.fixed, "total_usd": p.total,
                     "share": _share(p.total, parts.total)})  # fmt: skip
    shown, paging = paged(rows, page_number, sort, descending, [c.key for c in USER_COLUMNS])
    page = Page("Users")
    page.cards = [Card("Users", f"{sum(1 for u in whole if u):,}", f"with events {span(since, until)}", "users"),
                  *cards]  # fmt: skip
    page.extra["tables_first"] = True
    page.charts = [_top_chart("top-users", f"The {TOP} costliest users, part by part (click: their sessions)", rows,
                              "user", "/sessions?user={}", [("metered_usd", "Metered spend"),
                                                            ("extra_usd", "Per-session extra"),
                                                            ("fixed_usd", "Fixed share")])]  # fmt: skip
    page.tables = [Table("users", f"Users, {span(since, until)}", USER_COLUMNS, shown, paging=paging,
                         export=lambda: sort_rows(rows, sort, descending),
                         note="Total: metered spend + their sessions' extra cost + their sessions' share of each "
                              "day's fixed costs.")]  # fmt: skip
    return page


AGENT_COLUMNS = [
    Column("agent", "Agent", link="/sessions?agent={agent}", priority=1, blank="(no agent)"),
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
    with ledger.store.engine.connect() as connection:
        cards, parts = _range_cards(connection, ledger, ranged)
        metered = queries.totals(connection, ["agent"], ranged)
    rows = _agent_rows(metered)
    page = Page("Agents")
    page.cards = [Card("Agents", f"{sum(1 for t in metered if t.group['agent']):,}",
                       f"with events {span(since, until)}", "agents"), *cards]  # fmt: skip
    page.charts = [_top_chart("top-agents", f"The {TOP} costliest agents (click: their sessions)", rows, "agent",
                              "/sessions?agent={}", [("cost_usd", "Metered spend")])]  # fmt: skip
    page.tables = [_agents_table(rows, since, until, sort, descending, page_number)]
    page.notes = [
        f"An agent's cost is its metered spend. The per-session extra cost ({money(parts.extra)}) and the fixed "
        f"costs ({money(parts.fixed)}) of the range belong to sessions, not to an agent, and are not split among "
        "agents: they are in the total above.",
    ]
    return page


def agents_table(ledger: Ledger, filters: Filters, today: dt.date, sort: str, descending: bool) -> Table:
    """The agents page's table alone (its CSV): the agents' metered totals, without the page's cost
    cards, whose whole cost counts the sessions of the range and of the range before (nine tenths of
    the page at 1M events)."""
    ranged = window(filters, today)
    with ledger.store.engine.connect() as connection:
        metered = queries.totals(connection, ["agent"], ranged)
    return _agents_table(_agent_rows(metered), *bounds(ranged), sort, descending, 1)


def _agent_rows(metered: list[queries.Total]) -> list[dict[str, Any]]:
    total = sum((t.cost_usd for t in metered), start=_ZERO)
    return [{"agent": t.group["agent"], "events": t.events, "unpriced": t.unpriced,
             "cost_usd": t.cost_usd, "share": _share(t.cost_usd, total)}
            for t in metered]  # fmt: skip


def _agents_table(rows: list[dict[str, Any]], since: dt.date, until: dt.date, sort: str, descending: bool,
                  page_number: int) -> Table:  # fmt: skip
    shown, paging = paged(rows, page_number, sort, descending, [c.key for c in AGENT_COLUMNS])
    return Table("agents", f"Agents, {span(since, until)}", AGENT_COLUMNS, shown, paging=paging,
                 export=lambda: sort_rows(rows, sort, descending))  # fmt: skip


def _top_chart(chart_id: str, title: str, rows: list[dict[str, Any]], key: str, link: str,
               parts: Sequence[tuple[str, str]]) -> Chart:  # fmt: skip
    """The top few by their total, each bar split into its parts."""
    top = [r for r in sort_rows(rows, parts[-1][0] if len(parts) == 1 else "total_usd", True)
           if r[key]][:TOP]  # fmt: skip
    series = [(label, [r[column] for r in top]) for column, label in parts]
    colors = [PART_COLORS[c.split("_")[0]] if c.split("_")[0] in PART_COLORS else PART_COLORS["metered"]
              for c, _ in parts]  # fmt: skip
    return split_bars(chart_id, title, [str(r[key]) for r in top], series, colors,
                      [link.format(quote(str(r[key]), safe="")) for r in top])  # fmt: skip


__all__ = ["agents_page", "agents_table", "users_page"]
