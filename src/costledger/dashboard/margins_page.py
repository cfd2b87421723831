"""The margins page: a card per plan (revenue, cost, margin, and the margin at the plan's limit
first), coloured red below zero, amber below the plan's minimum share, green above; margin
per plan month by month; the at-limit table with its verdict first; per-user margins a page at
a time, sorted by any column. It shows what `costledger.margins` reports.

Margins are per plan and user, so the page filters by plan and by user; a plan's minimum share
is its `min_margin_share` in costledger.toml (DEFAULT_THIN_SHARE when it sets none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from ..ledger import Ledger
from ..margins.arithmetic import Margin
from ..margins.at_limit import AtLimitRow
from ..margins.figures import month_bounds
from ..margins.plans import ASSUMPTIONS, NO_PLAN
from .charts import Chart, layout, month_label
from .pages import Card, Page, money, span
from .tables import Column, Table, paged, share_text

DEFAULT_THIN_SHARE = Decimal("0.2")
MARGIN_DAYS = 90
VERDICTS = {
    "negative": ("loses money at its limit", "loss"),
    "thin": ("thin at its limit", "thin"),
    "ok": ("earns at its limit", "ok"),
    "no data": ("no sessions measured yet", ""),
    "no quota": ("no quota to reach", ""),
}
USER_SORTS = ("month", "plan", "user_id", "revenue_usd", "cost_usd", "margin_usd", "margin_share")


def state_of(margin: Margin, min_share: Decimal | None) -> str:
    """loss below zero, thin below the minimum share of net revenue, ok above."""
    if margin.margin < 0:
        return "loss"
    share = margin.share
    if share is not None and share < (min_share if min_share is not None else DEFAULT_THIN_SHARE):
        return "thin"
    return "ok"


def _money_row(margin: Margin) -> dict[str, Any]:
    return {"revenue_usd": margin.net_revenue, "fees_usd": margin.fees, "variable_usd": margin.variable_cost,
            "extra_usd": margin.extra_cost, "fixed_usd": margin.fixed_cost, "cost_usd": margin.cost,
            "margin_usd": margin.margin, "margin_share": margin.share}  # fmt: skip


def at_limit_rows(ledger: Ledger, since: dt.date, until: dt.date, connection: Connection) -> list[AtLimitRow]:
    """The margins' at-limit table for the range, alone (no revenue, usage or fixed costs read), in the
    page's transaction: from the kept cost bands where they answer it (margins/kept_limits.py), else from
    the range's sessions (those the page has read already serve again)."""
    from ..margins.at_limit import at_limit_table
    from ..margins.figures import month_of, session_figures
    from ..margins.kept_limits import kept_at_limit
    from ..margins.plans import PlanBook

    kept = kept_at_limit(connection, ledger.config, ledger.catalog, since, until)
    if kept is not None:
        return kept
    held = session_figures(connection, since, until)
    book = PlanBook(ledger.config.plans, ledger.config.subscriptions)
    return at_limit_table(ledger.config, ledger.catalog, book, held, month_of(until), until)


def plans_card(rows: Sequence[AtLimitRow], href: str) -> Card:
    """Which plans lose money at their limit, in one card (the overview's)."""
    losing = [r.plan.name for r in rows if r.flag == "negative"]
    thin = [r.plan.name for r in rows if r.flag == "thin"]
    if losing:
        value, state = f"{len(losing)} of {len(rows)} lose money", "loss"
    elif thin:
        value, state = f"{len(thin)} of {len(rows)} thin", "thin"
    else:
        value, state = f"all {len(rows)} earn" if rows else "no plans", "ok" if rows else ""
    worst = min((r for r in rows if r.p90 is not None), key=lambda r: r.p90.margin if r.p90 else 0, default=None)
    note = ", ".join(losing or thin) if losing or thin else "at the p90 session cost"
    if worst is not None and worst.p90 is not None and worst.p90.margin < 0:
        note += f"; worst {worst.plan.name} {money(worst.p90.margin)} a subscriber at p90"
    return Card("Plans at their limit", value, note, "plans", state == "loss", href=href, state=state)


def margins_page(ledger: Ledger, since: dt.date, until: dt.date, plan: str | None, user: str | None, sort: str,
                 descending: bool, page_number: int) -> Page:  # fmt: skip
    page = Page("Margins")
    try:
        from ..margins import report_for
    except ImportError:
        page.extra["not_configured"] = "Margins are not available in this installation."
        return page
    plans = {p.name: p for p in ledger.config.plans}
    if not plans:
        page.extra["not_configured"] = "No plans are configured: add [[plans]] to costledger.toml to see margins."
        return page
    report = report_for(ledger, since=since, until=until)
    users = [(month, name, who, m) for (month, name, who), m in sorted(report.users.items())
             if (plan is None or name == plan) and (user is None or who == user)]  # fmt: skip
    cells = [c for c in report.plans if plan is None or c.plan == plan]
    at_limit = {row.plan.name: row for row in report.at_limit}
    shown = [name for name in plans if plan is None or name == plan]
    if NO_PLAN in {c.plan for c in cells} and plan is None:
        shown.append(NO_PLAN)
    page.cards = [_plan_card(name, plans.get(name), users if user else None, cells, at_limit.get(name))
                  for name in shown]  # fmt: skip
    page.charts = [_trend(report.months, cells, users if user else None, since, until)]
    user_rows = [{"month": month, "plan": name or None, "user_id": who or None, **_money_row(m)}
                 for month, name, who, m in users]  # fmt: skip
    page_rows, paging = paged(user_rows, page_number, sort, descending, USER_SORTS)
    money_columns = [
        *(Column(key, label, "money", priority=3) for key, label in (
            ("revenue_usd", "Revenue"), ("fees_usd", "Fees"), ("variable_usd", "Usage"), ("extra_usd", "Extra"),
            ("fixed_usd", "Fixed"), ("cost_usd", "Cost"))),
        Column("margin_usd", "Margin", "money", priority=1), Column("margin_share", "Share", "share"),
    ]  # fmt: skip
    page.tables = [
        _at_limit_table([at_limit[n] for n in shown if n in at_limit]),
        Table("plans", f"Margin per plan and month, {span(since, until)}",
              [Column("month", "Month", priority=1), Column("plan", "Plan", priority=1, blank="(no plan)"),
               Column("users", "Users", "count", priority=3), Column("sessions", "Sessions", "count", priority=3),
               *money_columns, Column("fees_actual_usd", "Fees actual", "money", priority=3),
               Column("fees_estimated_usd", "Fees estimated", "money", priority=3),
               Column("paid_in", "Paid in", priority=3, wrap=True)],
              [{"month": c.month, "plan": c.plan or None, "users": len(c.users), "sessions": c.sessions,
                **_money_row(c.margin), "fees_actual_usd": c.margin.fees - c.margin.fees_estimated,
                "fees_estimated_usd": c.margin.fees_estimated, "paid_in": paid_in(c.currencies)} for c in cells],
              note="Revenue net of refunds and disputes; cost = payment fees + usage + per-session extra + fixed "
                   "share. Fees actual are Stripe's own (its balance transactions); fees estimated come from the "
                   "catalog's card rules. Paid in: net revenue in each currency customers paid in, beside USD."),
        Table("months", "Margin per month, all plans",
              [Column("month", "Month", priority=1), *money_columns],
              [{"month": m, **_money_row(report.total(m))} for m in report.months]),
        Table("users", "Margin per user and month", [Column("month", "Month", priority=3),
              Column("plan", "Plan", priority=3, blank="(no plan)"),
              Column("user_id", "User", link="/users?user={user_id}", priority=1, blank="(no user)"),
              *money_columns], page_rows, paging=paging, export=lambda: user_rows),
    ]  # fmt: skip
    page.notes = [
        "A plan's card: red when its margin is below zero, amber below its min_margin_share of revenue "
        f"(costledger.toml; {share_text(DEFAULT_THIN_SHARE)} when it sets none), green above. Its label says "
        "what its margin at the limit is (every subscriber using the whole quota at the p90 session cost).",
        *ASSUMPTIONS,
    ]
    page.extra["report"] = report
    return page


def _plan_card(name: str, plan: Any, users: Sequence[tuple[str, str, str, Margin]] | None, cells: Sequence[Any],
               row: AtLimitRow | None) -> Card:  # fmt: skip
    if users is not None:
        margin = sum((m for _, p, _, m in users if p == name), start=Margin())
    else:
        margin = sum((c.margin for c in cells if c.plan == name), start=Margin())
    min_share = plan.min_margin_share if plan is not None else None
    state = state_of(margin, min_share)
    share = margin.share
    lines = [f"revenue {money(margin.net_revenue)}", f"cost {money(margin.cost)}",
             f"margin {share_text(share)}" if share is not None else "no revenue"]  # fmt: skip
    badge, badge_state = "", ""
    if row is not None:
        verdict, badge_state = VERDICTS.get(row.flag, (row.flag, ""))
        at = f" ({money(row.p90.margin)} at p90)" if row.p90 is not None else ""
        badge = verdict + at
    return Card(name or "(no plan)", money(margin.margin), " · ".join(lines), f"plan-{name or 'none'}",
                state == "loss", state=state, badge=badge, badge_state=badge_state)  # fmt: skip


def _at_limit_table(rows: Sequence[AtLimitRow]) -> Table:
    out = []
    for row in rows:
        verdict, _ = VERDICTS.get(row.flag, (row.flag, ""))
        out.append({"plan": row.plan.name, "verdict": verdict, "flag": row.flag in ("negative", "thin"),
                    "p90_margin_usd": row.p90.margin if row.p90 else None,
                    "p50_margin_usd": row.p50.margin if row.p50 else None, "price_usd": row.plan.price_usd,
                    "quota": row.p90.sessions if row.p90 else row.plan.included_sessions,
                    "p50_cost_usd": row.p50.cost_per_session if row.p50 else None,
                    "p90_cost_usd": row.p90.cost_per_session if row.p90 else None, "fee_usd": row.fee,
                    "subscribers": row.subscribers,
                    "measured": f"{row.measured_sessions:,} of {row.measured_on}"})  # fmt: skip
    return Table("at_limit", "If every subscriber uses the whole quota",
                 [Column("plan", "Plan", priority=1), Column("verdict", "Verdict", "flag", priority=1),
                  Column("p90_margin_usd", "Margin at p90", "money", priority=1),
                  Column("p50_margin_usd", "Margin at p50", "money"), Column("price_usd", "Price", "money", priority=3),
                  Column("quota", "Sessions", "count", priority=3),
                  Column("p50_cost_usd", "p50 per session", "money", priority=3),
                  Column("p90_cost_usd", "p90 per session", "money", priority=3),
                  Column("fee_usd", "Payment fee", "money", priority=3),
                  Column("subscribers", "Subscribers", "count", priority=3),
                  Column("measured", "Measured on", priority=3, wrap=True)], out)  # fmt: skip


def _trend(months: Sequence[str], cells: Sequence[Any], users: Sequence[tuple[str, str, str, Margin]] | None,
           since: dt.date, until: dt.date) -> Chart:  # fmt: skip
    """Margin per plan, month by month (a month the range covers in part is marked)."""
    labels = []
    for month in months:
        first, last = month_bounds(month)
        labels.append(month_label(first, partial=first < since or last > until))
    names = sorted({c.plan for c in cells}, key=lambda p: (p == NO_PLAN, p))
    data = []
    for name in names:
        by_month: dict[str, Decimal] = {}
        if users is not None:
            for month, plan, _, m in users:
                if plan == name:
                    by_month[month] = by_month.get(month, Decimal(0)) + m.margin
        else:
            by_month = {c.month: c.margin.margin for c in cells if c.plan == name}
        data.append({"type": "scatter", "mode": "lines+markers", "name": name or "(no plan)", "x": labels,
                     "y": [float(by_month[m]) if m in by_month else None for m in months],
                     "hovertemplate": f"{name or '(no plan)'} %{{x}}: $%{{y:,.2f}}<extra></extra>"})  # fmt: skip
    frame = layout(xaxis={"type": "category", "automargin": True}, showlegend=True,
                   shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
                            "line": {"color": "#c0392b", "width": 1, "dash": "dot"}}])  # fmt: skip
    frame["yaxis"]["rangemode"] = "normal"
    return Chart("margin-trend", "Margin per plan, month by month (below the dotted line: a loss)",
                 {"data": data, "layout": frame}, wide=True)  # fmt: skip


__all__ = ["DEFAULT_THIN_SHARE", "MARGIN_DAYS", "at_limit_rows", "margins_page", "plans_card", "state_of"]


def paid_in(currencies: Mapping[str, tuple[Decimal, Decimal]]) -> str:
    """A plan's net revenue in each currency customers paid in, beside its USD figure: "EUR 29.00 ($31.47)"."""
    return ", ".join(
        f"{currency.upper()} {original:,.2f}" + (f" ({money(in_usd)})" if currency != "usd" else "")
        for currency, (original, in_usd) in sorted(currencies.items())
    )
