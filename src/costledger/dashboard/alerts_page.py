"""The alerts page: the rules in force with their thresholds and where each stands now (today
against a daily limit, the month against a monthly one), and the fired alerts grouped by
rule, each acknowledged on its own or with its group.

Where a rule stands is read the way the rule reads it (alerts/kinds.py): from the period
totals, the metered cost of the day or the month, for the whole ledger, one subject
(`only`), or the highest subject of a `per` rule.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from .. import clock
from ..ledger import Ledger
from ..store import Filters
from ..store.periods import period_breakdowns, period_figures
from ..store.session_totals import list_whole
from .pages import Card, Page
from .tables import Column, Table, money_text

_ZERO = Decimal(0)


def _alerts(ledger: Ledger) -> Any | None:
    """The ledger's alerting (rules, fired alerts), or None where this build has none."""
    return getattr(ledger, "alerts", None)


def open_alert_count(ledger: Ledger) -> int | None:
    """Fired alerts nobody acknowledged; None when alerting is not available."""
    alerts = _alerts(ledger)
    if alerts is None:
        return None
    return len(alerts.history(unacked=True, limit=1000))


@dataclass(frozen=True)
class Standing:
    """Where a rule stands now."""

    value: str  # "$31.41 today", "3 unpriced events today"
    limit: str  # "$100.00"
    over: bool | None  # None: the rule has no figure to compare here


def _figure(connection: Connection, period: str, per: str | None, only: str | None) -> tuple[str, Decimal, int]:
    """(whose, metered cost, unpriced events) of a period: the total, one subject, or a per rule's highest."""
    if per is None or only is not None:
        found = period_figures(connection, [period], (per or "", only or "")).get(period)
        who = "" if per is None else f"{'user' if per == 'user_id' else per} {only}: "
        return who, found.cost_usd if found else _ZERO, found.unpriced if found else 0
    ranked = period_breakdowns(connection, period, {per: 1}).get(per, [])
    if not ranked:
        return "", _ZERO, 0
    top = ranked[0]
    return f"highest {'user' if per == 'user_id' else per} {top.group[per]}: ", top.cost_usd, top.unpriced


def standing(connection: Connection, rule: Any, now: dt.datetime) -> Standing:
    today, month = now.date().isoformat(), now.date().isoformat()[:7]
    limit = money_text(rule.threshold) if rule.threshold is not None else "—"
    if rule.kind in ("daily_total", "monthly_total"):
        period = today if rule.kind == "daily_total" else month
        who, cost, _ = _figure(connection, period, rule.per, rule.only)
        when = "today" if rule.kind == "daily_total" else "this month"
        return Standing(f"{who}{money_text(cost)} {when}", limit, cost > rule.threshold)
    if rule.kind == "unpriced":
        ranked = period_breakdowns(connection, today, {"service": None}).get("service", [])
        worst = max(ranked, key=lambda t: t.unpriced, default=None)
        count = worst.unpriced if worst else 0
        where = f" ({worst.group['service']})" if worst and count else ""
        over = count >= rule.min_events
        return Standing(f"{count:,} unpriced events today{where}", f"{rule.min_events:,} a day", over)
    if rule.kind == "session_total":
        day = now.date()
        dims = {rule.per: rule.only} if rule.per and rule.only is not None else {}
        found, _ = list_whole(connection, Filters(since=day, until=day, dims=dims), "metered", True, 1)
        if not found:
            return Standing("no session today", limit, False)
        top = found[0]
        return Standing(f"costliest today {money_text(top.cost_usd)} ({top.session_id})", limit,
                        top.cost_usd > rule.threshold)  # fmt: skip
    if rule.kind == "forecast":
        who, spent, _ = _figure(connection, month, rule.per, rule.only)
        length = calendar.monthrange(now.year, now.month)[1]
        elapsed = (now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 86400
        projection = spent * length / Decimal(str(max(elapsed, 1.0)))
        return Standing(f"{who}projects to {money_text(projection.quantize(Decimal('0.01')))}", limit,
                        projection > rule.threshold)  # fmt: skip
    if rule.kind == "spike":
        who, cost, _ = _figure(connection, today, rule.per, rule.only)
        days = [(now.date() - dt.timedelta(days=n)).isoformat() for n in range(1, 8)]
        trailing = period_figures(connection, days, (rule.per or "", rule.only or "")) if rule.per is None or \
            rule.only is not None else {}  # fmt: skip
        average = sum((t.cost_usd for t in trailing.values()), start=_ZERO) / 7
        line = rule.factor * average
        return Standing(f"{who}{money_text(cost)} today", f"{money_text(line.quantize(Decimal('0.01')))} "
                        f"({rule.factor}× the 7-day average)", cost > line if average else None)  # fmt: skip
    return Standing("see Margins" if rule.kind == "plan_margin" else "—", limit, None)


def alerts_page(ledger: Ledger) -> Page:
    page = Page("Alerts")
    alerts = _alerts(ledger)
    fired = alerts.history(limit=500) if alerts is not None else []
    rules = alerts.all_rules() if alerts is not None else []
    if alerts is None:
        page.extra["not_configured"] = "Alerting is not available in this installation."
    elif not rules and not fired:
        page.extra["not_configured"] = (
            "No alert rules are configured: add [[alerts]] to costledger.toml or use `costledger alerts`."
        )
    now = clock.utcnow()
    rule_rows = []
    with ledger.store.engine.connect() as connection:
        for rule in rules:
            where = standing(connection, rule, now)
            rule_rows.append({"name": rule.name, "kind": rule.kind, "checks": rule.describe(), "now": where.value,
                              "limit": where.limit, "state": {True: "over", False: "under", None: ""}[where.over],
                              "flag": bool(where.over), "source": rule.source,
                              "channels": ", ".join(rule.channels)})  # fmt: skip
    open_count = sum(1 for a in fired if a.acked_at is None)
    page.cards = [
        Card("Open alerts", f"{open_count:,}", "not acknowledged", "open", open_count > 0),
        Card("Rules in force", f"{len(rules)}", "defaults, environment, costledger.toml and CLI", "rules"),
        Card("Over their limit now", f"{sum(1 for r in rule_rows if r['flag'])}", "of the rules below", "over",
             any(r["flag"] for r in rule_rows)),
    ]  # fmt: skip
    page.tables = [
        Table("rules", "Rules in force, and where each stands now",
              [Column("name", "Rule", priority=1, wrap=True), Column("checks", "Checks", priority=3, wrap=True),
               Column("now", "Now", priority=1, wrap=True), Column("limit", "Limit", priority=1, wrap=True),
               Column("state", "State", "flag", priority=1), Column("source", "From", priority=3),
               Column("channels", "Channels", priority=3)], rule_rows,
              note="Now: the metered cost of today or this month, as the rule reads it (UTC)."),
        *_groups(fired),
    ]  # fmt: skip
    if not fired:
        page.notes.append("No alert has fired.")
    return page


def _groups(fired: Sequence[Any]) -> list[Table]:
    """One table per rule, the rules with open alerts first, each alert newest first."""
    by_rule: dict[str, list[Any]] = {}
    for alert in fired:
        by_rule.setdefault(alert.rule, []).append(alert)
    ordered = sorted(by_rule.items(), key=lambda item: (not any(a.acked_at is None for a in item[1]), item[0]))
    out = []
    for n, (rule, group) in enumerate(ordered, start=1):
        rows = [{"id": a.id, "fired_at": a.fired_at, "subject": a.subject, "period": a.period,
                 "value": _value(a.as_dict()), "message": a.message, "acked_by": a.acked_by or "",
                 "open": a.acked_at is None} for a in group]  # fmt: skip
        open_ids = [r["id"] for r in rows if r["open"]]
        out.append(Table(f"fired-{n}", f"{rule}: {len(rows)} fired, {len(open_ids)} open",
                         [Column("fired_at", "Fired (UTC)", "time"), Column("period", "Period", priority=1),
                          Column("subject", "Subject", priority=1, wrap=True),
                          Column("value", "Value", priority=2), Column("message", "Message", priority=3, wrap=True),
                          Column("acked_by", "Acknowledged by", priority=3), Column("id", "Id", priority=3)],
                         rows, extra={"ack": True, "rule": rule, "open_ids": open_ids}))  # fmt: skip
    return out


def _value(alert: dict[str, Any]) -> str:
    if alert.get("value_usd") is not None:
        return f"{money_text(Decimal(alert['value_usd']))} (limit {money_text(Decimal(alert['threshold_usd']))})"
    return f"{alert.get('value')} (limit {alert.get('threshold')})"


def acknowledge(ledger: Ledger, ids: Sequence[int], by: str) -> int:
    alerts = _alerts(ledger)
    if alerts is None or not ids:
        return 0
    return int(alerts.ack(ids, by))


__all__ = ["acknowledge", "alerts_page", "open_alert_count", "standing"]
