"""The at-limit table on the demo workload, checked against a computation from the raw events."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from costledger import Ledger, load_config, price
from costledger.demo import record_workload, workload, write_config
from costledger.margins import margins_json
from costledger.money import quantize

NOW = dt.datetime(2026, 11, 20, 18, 30, tzinfo=dt.UTC)


def test_at_limit_on_the_demo_matches_a_hand_computation(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    write_config(config, NOW.date(), 10)
    with Ledger(tmp_path / "demo.db", config=config) as ledger:
        record_workload(ledger, seed=5, days=10, now=NOW)
        data = margins_json(ledger)
    plans = {p.name: p for p in load_config(config).plans}

    # By hand: each session's cost is the sum of its events' prices (nine decimals each, as stored),
    # payments left out; a session with an event no catalog knows is not measured.
    cost: dict[str, Decimal] = defaultdict(Decimal)
    tier: dict[str, str] = {}
    unknown: set[str] = set()
    for event in workload(seed=5, days=10, now=NOW):
        session = event.get("session_id")
        if session is None or event["service"] == "stripe":
            continue
        tier[session] = event["tier"]
        try:
            cost[session] += quantize(price(event["service"], event["model"], at=event["ts"], **event["usage"]).total)
        except Exception:
            unknown.add(session)
    rows = {r["plan"]: r for r in data["at_limit"]}
    for name in ("explorer", "creator", "professional"):
        plan = plans[name]
        costs = sorted(c for s, c in cost.items() if tier[s] == name and s not in unknown)
        p50 = costs[math.ceil(len(costs) * 50 / 100) - 1]
        p90 = costs[math.ceil(len(costs) * 90 / 100) - 1]
        # Stripe: 2.9% + $0.30 per charge, rounded half-up to the cent; no charge, no fee.
        fee = plan.price_usd * Decimal("0.029") + Decimal("0.30") if plan.price_usd else Decimal(0)
        fee = fee.quantize(Decimal("0.01"), ROUND_HALF_UP)
        row = rows[name]
        assert row["measured_sessions"] == len(costs)
        assert Decimal(row["p50"]["cost_per_session_usd"]) == p50
        assert Decimal(row["p90"]["margin_usd"]) == plan.price_usd - fee - plan.included_sessions * p90
        assert row["flag"] == ("negative" if Decimal(row["p90"]["margin_usd"]) < 0 else "ok")
    # Every month's fixed costs are carried in full by the plans, to the nano-dollar.
    for month in data["months"]:
        assert Decimal(month["total"]["fixed_cost_usd"]) == Decimal(20 + 45 + 19)
        assert sum(Decimal(p["fixed_cost_usd"]) for p in month["plans"]) == Decimal(84)
