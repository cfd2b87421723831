"""Pages about what is configured, beside what really happened: the price catalog in force
(with the unknown models seen and the costledger.toml that would price them) and fixed
monthly costs, and the session types' estimates against real costs.

The prices page reads the catalog and one small usage summary (cost per service and model
over the last USAGE_DAYS days, from the store's totals), never all-time history.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..errors import UnknownPrice
from ..ledger import Ledger
from ..money import usd
from ..pricing.entries import PriceEntry, Rate, Tiered
from ..store import Filters, queries
from ..store.session_modes import session_costs_by_mode
from .charts import Chart, layout
from .pages import Card, Page, money, span, window
from .tables import Column, Table, paged

SESSION_TYPE_DAYS = 30
USAGE_DAYS = 90
PRICE_SORTS = ("service", "model", "since", "kind")

# How people write a rate: the unit each meter is sold by, for the `per` it is priced at.
_UNITS: dict[tuple[str, int], str] = {
    ("audio_seconds", 1): "second", ("audio_seconds", 60): "min", ("audio_seconds", 3600): "hour",
    ("characters", 1000): "1K chars", ("characters", 1_000_000): "1M chars",
    ("participant_minutes", 1): "participant-min", ("web_searches", 1000): "1K searches",
    ("requests", 1000): "1K requests", ("phone_minutes", 1): "phone min",
}  # fmt: skip
_TOKEN_NAMES = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cache read",
                "cache_write_tokens": "cache write"}  # fmt: skip
_URL = re.compile(r"https?://[^\s)]+")


def _price(amount: Decimal) -> str:
    """$3.00, $0.0043, $0.000075: cents always, and every digit a rate has below them."""
    text = usd(amount)
    whole, _, cents = text.partition(".")
    return f"${int(whole):,}.{cents.ljust(2, '0')}"


def _tokens(count: int) -> str:
    return f"{count // 1000:,}K" if count % 1000 == 0 else f"{count:,}"


def rate_text(meter: str, rate: Rate) -> str:
    """'input $3.00 / MTok', '$0.0043 / min', '2.9%', '$0.006 / 1K chars' (long-context tiers after)."""
    base = rate.usd.base if isinstance(rate.usd, Tiered) else rate.usd
    if meter == "amount_usd" and rate.per == 100:
        return f"{usd(base)}%"
    if meter in _TOKEN_NAMES and rate.per == 1_000_000:
        text = f"{_TOKEN_NAMES[meter]} {_price(base)} / MTok"
    elif (meter, rate.per) in _UNITS:
        text = f"{_price(base)} / {_UNITS[(meter, rate.per)]}"
    else:
        text = f"{_price(base)} / {rate.per:,} {meter.replace('_', ' ')}" if rate.per != 1 else \
            f"{_price(base)} / {meter.replace('_', ' ')}"  # fmt: skip
    if isinstance(rate.usd, Tiered):
        text += "".join(f" (over {_tokens(start)} input tokens: {_price(p)})" for start, p in rate.usd.tiers)
    return text


def rates_text(entry: PriceEntry) -> str:
    """An entry's rates, one a line, tokens first: '2.9% + $0.30', 'input $3.00 / MTok⏎output $15.00 / MTok'."""
    order = list(_TOKEN_NAMES)
    meters = sorted(entry.rates, key=lambda m: (order.index(m) if m in order else len(order), m))
    parts = [rate_text(meter, entry.rates[meter]) for meter in meters]
    if parts and list(entry.rates) == ["amount_usd"] and entry.per_event_usd:
        return f"{parts[0]} + {_price(entry.per_event_usd)}"
    if entry.per_event_usd:
        parts.append(f"{_price(entry.per_event_usd)} per event")
    return "\n".join(parts)


def source_parts(source: str) -> tuple[str, str]:
    """(the source's URL or '', the rest of its text): a link and what it says."""
    found = _URL.search(source)
    if found is None:
        return "", source
    rest = (source[: found.start()] + source[found.end() :]).strip().strip("()").strip()
    return found.group(0), rest


def usage_summary(ledger: Ledger, today: dt.date) -> list[queries.Total]:
    """Cost, events and unpriced events per service and model over the last USAGE_DAYS days."""
    recent = Filters(since=today - dt.timedelta(days=USAGE_DAYS - 1), until=today)
    with ledger.store.engine.connect() as connection:
        return queries.totals(connection, ["service", "model"], recent)


_SHORTHANDS = {"input_tokens": "input_per_mtok", "output_tokens": "output_per_mtok",
               "cache_read_tokens": "cache_read_per_mtok", "cache_write_tokens": "cache_write_per_mtok",
               "web_searches": "web_searches_per_k", "audio_seconds": "audio_per_minute",
               "characters": "characters_per_k", "participant_minutes": "participant_minute",
               "amount_usd": "percent_of_amount"}  # fmt: skip


def snippet(ledger: Ledger, service: str, model: str | None, first_seen: dt.date) -> str:
    """The costledger.toml that would price `service:model` from the day it was first seen, with the
    meters the service's known models are priced by. The rates are yours to fill in: a "?" left in
    refuses to load, naming its key. Or an alias, if it is another name of a model the catalog knows."""
    moment = dt.datetime.combine(first_seen, dt.time(12), dt.UTC)
    known = ledger.catalog.in_force(moment, [service])
    order = list(_SHORTHANDS)
    meters = sorted({m for e in known for m in e.rates}, key=lambda m: (order.index(m) if m in order else 99, m))
    lines = ["[[prices]]", f'service = "{service}"', f'model = "{model or ""}"', f"since = {first_seen.isoformat()}"]
    for meter in meters:
        key = _SHORTHANDS.get(meter)
        lines.append(f'{key} = "?"' if key else f'rates.{meter} = {{ usd = "?", per = 1 }}')
    if not meters:
        lines.append('rates.METER = { usd = "?", per = 1 }  # one line per meter its events count')
    lines.append('source = "?"  # where the rate is published')
    suggestions = ledger.catalog.suggest(service, model) if model else []
    if suggestions:
        lines += ["", f"# or, if {model} is another name of a model the catalog knows:", "[aliases]",
                  f'"{model}" = "{service}:{suggestions[0]}"']  # fmt: skip
    return "\n".join(lines)


def prices_page(ledger: Ledger, today: dt.date, service: str | None, sort: str, descending: bool,
                page_number: int) -> Page:  # fmt: skip
    """Every price in force today for the services the ledger has seen lately (and ours), overrides
    marked, the models used lately first; the unknown models seen, each with its snippet."""
    used = usage_summary(ledger, today)
    seen = {str(t.group["service"]) for t in used if t.group["service"]}
    wanted = {service} if service else seen | {e.service for e in ledger.catalog.entries}
    moment = dt.datetime.combine(today, dt.time(12), dt.UTC)
    in_use = {(str(t.group["service"]), str(t.group["model"])) for t in used if t.cost_usd or t.events > t.unpriced}
    rows = []
    for entry in ledger.catalog.in_force(moment, sorted(wanted)):
        url, said = source_parts(entry.source)
        rows.append({"service": entry.service, "model": entry.model, "rates": rates_text(entry),
                     "since": entry.since.isoformat() if entry.since else "", "kind": entry.kind,
                     "override": "override" if entry.kind == "override" else "", "source": url or said,
                     "source_label": said if url else "", "note": entry.note,
                     "used": (entry.service, entry.model) in in_use,
                     "flag": entry.kind == "override"})  # fmt: skip
    # The models events used lately come first: that is what a reader looks for.
    rows.sort(key=lambda r: (not r["used"], r["service"], r["model"]))
    shown, paging = paged(rows, page_number, sort, descending, PRICE_SORTS) if sort else \
        paged(rows, page_number, "used", True, PRICE_SORTS)  # fmt: skip
    unknown = _unknown_models(ledger, used, today)
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
        Card("Unknown models", f"{len(unknown):,}", f"seen in the last {USAGE_DAYS} days: price them below",
             "unknown", bool(unknown), href="#unknown" if unknown else None),
        Card("Fixed monthly costs", money(monthly), f"{len(fixed)} items (provisioning)", "fixed"),
    ]  # fmt: skip
    page.tables = [
        Table("unknown", f"Unknown models seen in the last {USAGE_DAYS} days",
              [Column("service", "Service", priority=1), Column("model", "Model", priority=1),
               Column("unpriced", "Unpriced events", "count", priority=1),
               Column("first_seen", "First seen", priority=3), Column("reason", "Why", priority=3, wrap=True)],
              unknown, note="" if unknown else "Every event of the last 90 days was priced.",
              extra={"snippets": {f"{u['service']}:{u['model']}": u["snippet"] for u in unknown}}),
        Table("prices", f"Prices in force on {today}",
              [Column("service", "Service", priority=3), Column("model", "Model", priority=1),
               Column("rates", "Rates", "lines", priority=1, wrap=True, sortable=False),
               Column("since", "Since", priority=3),
               Column("kind", "Layer", priority=3), Column("override", "Override", "flag", priority=3),
               Column("source", "Source", "url", priority=3, sortable=False, wrap=True),
               Column("note", "Note", priority=3, wrap=True, sortable=False)], shown, paging=paging,
              export=lambda: rows, note="Models your events used lately come first."),
        Table("fixed_costs", "Fixed monthly costs (provisioning)",
              [Column("name", "Name", priority=1), Column("vendor", "Vendor"),
               Column("monthly_usd", "Per month", "money", priority=1), Column("since", "Since", priority=3),
               Column("until", "Until", priority=3)], fixed,
              note="" if fixed else "No [[fixed_costs]] in costledger.toml."),
    ]  # fmt: skip
    return page


def _unknown_models(ledger: Ledger, used: list[queries.Total], today: dt.date) -> list[dict[str, Any]]:
    out = []
    moment = dt.datetime.combine(today, dt.time(12), dt.UTC)
    recent = Filters(since=today - dt.timedelta(days=USAGE_DAYS - 1), until=today)
    for t in sorted(used, key=lambda t: (str(t.group["service"]), str(t.group["model"] or ""))):
        if not t.unpriced:
            continue
        service, model = str(t.group["service"]), t.group["model"]
        try:
            ledger.catalog.resolve(service, model, moment)
            reason = "priced now; its older events were recorded before the price (run `costledger reprice`)"
        except UnknownPrice as exc:
            reason = str(exc)
        with ledger.store.engine.connect() as connection:
            days = queries.totals(connection, ["day"], replace(recent, dims={"service": service, "model": model or ""}))
        first = dt.date.fromisoformat(str(days[0].group["day"])) if days else recent.since or today
        out.append({"service": service, "model": model or "(no model)", "unpriced": t.unpriced,
                    "first_seen": first.isoformat(), "reason": reason,
                    "snippet": snippet(ledger, service, model, first)})  # fmt: skip
    return out


def session_types_page(ledger: Ledger, filters: Filters, today: dt.date) -> Page:
    """Each configured session type's estimate beside the real p50/p90 per session, flagged when outside."""
    ranged = window(replace(filters, dims={k: v for k, v in filters.dims.items() if k != "mode"}), today,
                    SESSION_TYPE_DAYS)  # fmt: skip
    since, until = ranged.since or today, ranged.until or today
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
        Card("Outside their estimate", f"{flagged}", f"p50 or p90, {span(since, until)}", "flagged", flagged > 0),
    ]
    page.tables = [
        Table("session_types", f"Estimates against real cost per session, {span(since, until)}",
              [Column("mode", "Mode", link="/sessions?mode={mode}", priority=1), Column("agents", "Agents", priority=3),
               Column("estimate_low", "Estimate from", "money", priority=3),
               Column("estimate_high", "Estimate to", "money", priority=3),
               Column("extra_usd", "Extra per session", "money", priority=3),
               Column("sessions", "Sessions", "count", priority=3), Column("p50_usd", "Real p50", "money", priority=1),
               Column("p90_usd", "Real p90", "money"), Column("verdict", "Verdict", "flag", priority=1)], rows,
              note="" if rows else "No [[session_types]] in costledger.toml: add estimates to check them here."),
    ]  # fmt: skip
    if unconfigured:
        page.notes.append(f"Modes with sessions but no estimate: {', '.join(unconfigured)}.")
    page.charts = [_estimate_chart(rows)] if rows else []
    return page


def _estimate_chart(rows: list[dict[str, Any]]) -> Chart:
    """Each type's estimate range as a thick bar and its real p50 / p90 as marks, on a log scale in
    dollars: a $62 expert session and a $0.15 API call both show."""
    modes = [str(r["mode"]) for r in rows]

    def floats(key: str) -> list[float | None]:
        return [None if r[key] is None else float(str(r[key])) for r in rows]

    x: list[str | None] = []
    y: list[float | None] = []
    for mode, lo, hi in zip(modes, floats("estimate_low"), floats("estimate_high"), strict=True):
        x += [mode, mode, None]
        y += [lo, hi, None]
    data = [
        {"type": "scatter", "mode": "lines", "name": "estimate range", "x": x, "y": y, "connectgaps": False,
         "line": {"color": "rgba(56,103,214,0.35)", "width": 18}, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "markers", "name": "real p50", "x": modes, "y": floats("p50_usd"),
         "marker": {"color": "#20bf6b", "size": 11}, "hovertemplate": "%{x} p50: $%{y:,.2f}<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": "real p90", "x": modes, "y": floats("p90_usd"),
         "marker": {"color": "#eb3b5a", "size": 11, "symbol": "diamond"},
         "hovertemplate": "%{x} p90: $%{y:,.2f}<extra></extra>"},
    ]  # fmt: skip
    # The legend above the plot: below it, a narrow screen's slanted mode names ran into it.
    frame = layout(log=True, xaxis={"type": "category", "automargin": True},
                   legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                   margin={"l": 56, "r": 12, "t": 36, "b": 48})  # fmt: skip
    return Chart("estimates", "Estimate range and real p50 / p90 per session (log scale)",
                 {"data": data, "layout": frame}, wide=True)  # fmt: skip
