"""The alerts and margins pages. Each shows what its own library (`costledger.alerts`,
`costledger.margins`) reports, in the JSON shape the API carries, and says plainly
when that capability is not installed or not configured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..ledger import Ledger
from .pages import Card, Page
from .tables import Column, Table


def _alerts(ledger: Ledger) -> Any | None:
    """The ledger's alerting (rules, fired alerts), or None where this build has none."""
    return getattr(ledger, "alerts", None)


def open_alert_count(ledger: Ledger) -> int | None:
    """Fired alerts nobody acknowledged; None when alerting is not available."""
    alerts = _alerts(ledger)
    if alerts is None:
        return None
    return len(alerts.history(unacked=True, limit=1000))


def alerts_page(ledger: Ledger) -> Page:
    page = Page("Alerts")
    alerts = _alerts(ledger)
    fired = alerts.history(limit=200) if alerts is not None else []
    rules = alerts.all_rules() if alerts is not None else []
    if alerts is None:
        page.extra["not_configured"] = "Alerting is not available in this installation."
    elif not rules and not fired:
        page.extra["not_configured"] = (
            "No alert rules are configured: add [[alerts]] to costledger.toml or use `costledger alerts`."
        )
    rows = [{**flatten(a.as_dict()), "open": a.acked_at is None, "value": _value(a.as_dict())} for a in fired]
    page.cards = [
        Card("Open alerts", f"{sum(1 for r in rows if r['open'])}", "not acknowledged", "open"),
        Card("Rules in force", f"{len(rules)}", "costledger.toml, environment and CLI", "rules"),
    ]
    page.tables = [
        Table("alerts", "Fired alerts, newest first",
              [Column("fired_at", "Fired (UTC)", "time"), Column("kind", "Kind"), Column("rule", "Rule"),
               Column("subject", "Subject"), Column("period", "Period"), Column("value", "Value"),
               Column("message", "Message"), Column("acked_by", "Acknowledged by"), Column("id", "Id")], rows,
              note="" if rows else "No alert has fired."),
    ]  # fmt: skip
    return page


def _value(alert: Mapping[str, Any]) -> str:
    if alert.get("value_usd") is not None:
        return f"${alert['value_usd']} (threshold ${alert.get('threshold_usd')})"
    return f"{alert.get('value')} (threshold {alert.get('threshold')})"


def acknowledge(ledger: Ledger, ids: Sequence[int], by: str) -> int:
    alerts = _alerts(ledger)
    if alerts is None or not ids:
        return 0
    return int(alerts.ack(ids, by))


def margins_page(ledger: Ledger, since: dt.date, until: dt.date) -> Page:
    page = Page("Margins")
    try:
        from ..margins import report_for
    except ImportError:
        page.extra["not_configured"] = "Margins are not available in this installation."
        return page
    if not ledger.config.plans:
        page.extra["not_configured"] = "No plans are configured: add [[plans]] to costledger.toml to see margins."
        return page
    report = report_for(ledger, since=since, until=until).as_dict()
    months = [{"month": m["month"], **flatten(m["total"])} for m in report["months"]]
    plans = [{**flatten(p), "paid in": paid_in(p["currencies"])} for m in report["months"] for p in m["plans"]]
    at_limit = [flatten(r) for r in report["at_limit"]]
    page.tables = [
        generic_table("months", f"Margin per month, {since} to {until}", months),
        generic_table("plans", "Margin per plan and month", plans),
        generic_table("at_limit", "Margin if every subscriber uses the whole quota", at_limit),
        generic_table("users", "Margin per user", [flatten(u) for u in report["users"]]),
    ]
    page.extra["assumptions"] = report.get("assumptions", [])
    return page


def paid_in(currencies: Sequence[Mapping[str, str]]) -> str:
    """A plan's net revenue in each currency customers paid in, beside its USD figure: "EUR 29.00 ($31.47)"."""
    return ", ".join(
        f"{c['currency'].upper()} {Decimal(c['revenue']):,.2f}"
        + (f" (${Decimal(c['revenue_usd']):,.2f})" if c["currency"] != "usd" else "")
        for c in currencies
    )


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif not isinstance(value, list):
            out[name] = value
    return out


def generic_table(name: str, title: str, rows: list[dict[str, Any]]) -> Table:
    """A table of JSON rows: columns in first-seen order, *_usd columns as exact money."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    columns = [
        Column(k, k.replace("_usd", "").replace("_", " "), "money" if k.endswith("_usd") else "text") for k in keys
    ]
    typed = [{k: Decimal(v) if k.endswith("_usd") and v not in (None, "") else v for k, v in r.items()} for r in rows]
    return Table(name, title, columns, typed, note="" if rows else "Nothing in this range.")
