"""A plan's margin at its limit below X: checked on a schedule, not on every write.

A plan's margin at its limit needs the month's sessions, payments and fixed costs.
Reading them on every ingest batch would make ingest cost grow with the month, so the
`plan_margin` kind has no per-batch check: `Alerts.check_plans()` runs it (every few
minutes from the alerts' background loop, or once from `costledger alerts check`) and
fires through the same unique (rule, subject, period) key, so a plan alerts once a month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ..money import to_nanos, usd
from .kinds import Context, Firing, Kind, dollars, register
from .rules import Rule

if TYPE_CHECKING:
    from ..config import Config
    from ..store import Store

# How often the background loop recomputes the at-limit table.
CHECK_SECONDS = 300.0


def _not_per_batch(rule: Rule, context: Context) -> list[Firing]:
    return []


def _describe(rule: Rule) -> str:
    return f"a plan's margin at its limit (p90 session cost) below {dollars(rule.threshold or Decimal(0))}"


register("plan_margin", Kind(_not_per_batch, _describe, needs_threshold=False, per=()))


def plan_margin_firings(rules: Sequence[Rule], store: Store, config: Config, today: dt.date) -> list[Firing]:
    """What the plan-margin rules say about this month's at-limit table (margins.at_limit_table)."""
    from ..margins.plans import margin_report
    from ..pricing.catalog import catalog_from_config

    wanted = [rule for rule in rules if rule.kind == "plan_margin"]
    if not wanted or not config.plans:
        return []
    month = today.isoformat()[:7]
    report = margin_report(store, config, catalog_from_config(config), since=today.replace(day=1), until=today)
    out = []
    for rule in wanted:
        limit = rule.threshold or Decimal(0)
        for row in report.at_limit:
            if row.p90 is None or row.p90.margin >= limit:
                continue
            at = row.p90
            message = (
                f"Plan {row.plan.name} ({dollars(at.price)}): a subscriber who uses all {at.sessions} sessions at the "
                f"p90 session cost of {dollars(at.cost_per_session)} leaves a margin of {dollars(at.margin)} in "
                f"{month}, below {dollars(limit)} ({row.measured_sessions} sessions measured)."
            )
            details = {
                "plan": row.plan.name,
                "month": month,
                "price_usd": usd(at.price),
                "payment_fee_usd": usd(at.fee),
                "quota_sessions": at.sessions,
                "p90_cost_per_session_usd": usd(at.cost_per_session),
                "margin_at_limit_usd": usd(at.margin),
                "threshold_usd": usd(limit),
                "flag": row.flag,
            }
            out.append(Firing(rule, f"plan={row.plan.name}", month, to_nanos(at.margin), to_nanos(limit), message,
                              details))  # fmt: skip
    return out
