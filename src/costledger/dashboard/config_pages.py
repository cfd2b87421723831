"""Pages about what is configured, beside what really happened: the price catalog in
force with fixed monthly costs, and the session types' estimates against real costs."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..ledger import Ledger
from ..pricing.entries import describe
from ..store import Filters, queries
from ..store.session_modes import session_costs_by_mode
from .charts import Chart, layout
from .pages import Card, Page, money, window
from .tables import Column, Table

SESSION_TYPE_DAYS = 30


def prices_page(ledger: Ledger, today: dt.date, service: str | None = None) -> Page:
    """Every price in force now for the services the ledger has seen (and ours), overrides marked."""
    with ledger.store.engine.connect() as connection:
        seen = {str(t.group["service"]) for t in queries.totals(connection, ["service"]) if t.group["service"]}
    wanted = {service} if service else seen | {e.service for e in ledger.catalog.entries}
    moment = dt.datetime.combine(today, dt.time(12), dt.UTC)
    entries = ledger.catalog.in_force(moment, sorted(wanted))
    rows = []
    for entry in entries:
        row = describe(entry)
        marked = "override" if entry.kind == "override" else ""
        rows.append({**row, "rates": "; ".join(row["rates"]), "override": marked, "note": entry.note})
    # The models events actually used come first: that is what a reader looks for.
    used = {(str(t.group["service"]), str(t.group["model"])) for t in _used_models(ledger)}
    rows.sort(key=lambda r: ((r["service"], r["model"]) not in used, r["service"], r["model"]))
    fixed: list[dict[str, Any]] = [
        {"name": f.name, "vendor": f.vendor, "monthly_usd": f.monthly_usd, "since": f.since.isoformat(),
         "until": f.until.isoformat() if f.until else ""}
        for f in ledger.config.fixed_costs
        if f.since <= today and (f.until is None or f.until >= today)
    ]  # fmt: skip
    monthly = sum((f["monthly_usd"] for f in fixed), start=Decimal(0))
    page = Page("Services and prices")
    page.cards = [
        Card("Prices in force", f"{len(rows):,}", f"as of {today}", "prices"),
        Card("Overrides", f"{sum(1 for r in rows if r['override']):,}", "from costledger.toml", "overrides"),
        Card("Fixed monthly costs", money(monthly), f"{len(fixed)} items (provisioning)", "fixed"),
    ]
    page.tables = [
        Table("prices", f"Prices in force on {today}",
              [Column("service", "Service"), Column("model", "Model"), Column("rates", "Rates"),
               Column("since", "Since"), Column("kind", "Layer"), Column("override", "Override"),
               Column("source", "Source"), Column("note", "Note")], rows),
        Table("fixed_costs", "Fixed monthly costs (provisioning)",
              [Column("name", "Name"), Column("vendor", "Vendor"), Column("monthly_usd", "Per month", "money"),
               Column("since", "Since"), Column("until", "Until")], fixed,
              note="" if fixed else "No [[fixed_costs]] in costledger.toml."),
    ]  # fmt: skip
    return page


def _used_models(ledger: Ledger) -> list[queries.Total]:
    with ledger.store.engine.connect() as connection:
        return queries.totals(connection, ["service", "model"])


def session_types_page(ledger: Ledger, filters: Filters, today: dt.date) -> Page:
    """Each configured session type's estimate beside the real p50/p90 per session, flagged when outside."""
    ranged = window(replace(filters, dims={k: v for k, v in filters.dims.items() if k != "mode"}), today,
                    SESSION_TYPE_DAYS)  # fmt: skip
    with ledger.store.engine.connect() as connection:
        real = {m.mode: m for m in session_costs_by_mode(connection, ranged)}
    rows: list[dict[str, Any]] = []
    for kind in ledger.config.session_types:
        low, high = kind.estimate_usd
        found = real.get(kind.mode)
        extra = kind.extra_cost_usd
        p50 = found.p50_usd + extra if found else None
        p90 = found.p90_usd + extra if found else None
        if found is None:
            verdict = "no sessions"
        elif p50 is not None and p50 < low:
            verdict = "below estimate"
        elif (p50 is not None and p50 > high) or (p90 is not None and p90 > high):
            verdict = "above estimate"
        else:
            verdict = "within"
        rows.append({"mode": kind.mode, "agents": kind.agents, "estimate_low": low, "estimate_high": high,
                     "extra_usd": extra, "sessions": found.sessions if found else 0,
                     "p50_usd": p50, "p90_usd": p90, "verdict": verdict,
                     "flag": verdict in ("below estimate", "above estimate")})  # fmt: skip
    unconfigured = sorted(str(m) for m in real if m and m not in {k.mode for k in ledger.config.session_types})
    page = Page("Session types")
    flagged = sum(1 for r in rows if r["flag"])
    page.cards = [
        Card("Session types", f"{len(rows)}", "configured in costledger.toml", "types"),
        Card("Outside their estimate", f"{flagged}", f"p50 or p90, {ranged.since} to {ranged.until}", "flagged",
             flagged > 0),
    ]  # fmt: skip
    page.tables = [
        Table("session_types", f"Estimates against real cost per session, {ranged.since} to {ranged.until}",
              [Column("mode", "Mode", link="/sessions?mode={mode}"), Column("agents", "Agents"),
               Column("estimate_low", "Estimate from", "money"), Column("estimate_high", "Estimate to", "money"),
               Column("extra_usd", "Extra per session", "money"), Column("sessions", "Sessions", "count"),
               Column("p50_usd", "Real p50", "money"), Column("p90_usd", "Real p90", "money"),
               Column("verdict", "Verdict", "flag")], rows,
              note="" if rows else "No [[session_types]] in costledger.toml: add estimates to check them here."),
    ]  # fmt: skip
    if unconfigured:
        page.extra["unconfigured"] = unconfigured
    page.charts = [_estimate_chart(rows)] if rows else []
    return page


def _estimate_chart(rows: list[dict[str, Any]]) -> Chart:
    modes = [str(r["mode"]) for r in rows]

    def floats(key: str) -> list[float | None]:
        return [None if r[key] is None else float(str(r[key])) for r in rows]

    low, high = floats("estimate_low"), floats("estimate_high")
    data = [
        {"type": "bar", "name": "estimate range", "x": modes, "base": low,
         "y": [(h or 0) - (lo or 0) for lo, h in zip(low, high, strict=True)],
         "marker": {"color": "rgba(56,103,214,0.25)"}, "hovertemplate": "%{x}: estimate<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": "real p50", "x": modes, "y": floats("p50_usd"),
         "marker": {"color": "#20bf6b", "size": 11}, "hovertemplate": "%{x} p50: $%{y:,.2f}<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": "real p90", "x": modes, "y": floats("p90_usd"),
         "marker": {"color": "#eb3b5a", "size": 11, "symbol": "diamond"},
         "hovertemplate": "%{x} p90: $%{y:,.2f}<extra></extra>"},
    ]  # fmt: skip
    return Chart("estimates", "Estimate range and real p50 / p90 per session", {"data": data, "layout": layout()})
