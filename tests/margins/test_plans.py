"""Margins per plan and user, and the at-limit table, on a recorded month checked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from costledger import Ledger
from costledger.config import parse_config
from costledger.margins import margin_report, margins_json, report_for

from .conftest import CONFIG, record_october

D = Decimal


def plan_rows(data: dict) -> dict[str, dict]:
    (month,) = data["months"]
    return {row["plan"]: row for row in month["plans"]}


def test_margin_per_plan_matches_the_hand_computation(october: Ledger) -> None:
    data = margins_json(october, "2026-10")
    plans = plan_rows(data)
    # creator: 2 × $29 paid, $29 refunded (Stripe keeps both fees: 2 × (0.841 + 0.30 = 1.141 → 1.14 to the cent)),
    # sessions 0.045 + 0.09 + 0.12 + 0.45 + (0.015 + 0.043), 5 of the 8 sessions carry the $20 server.
    assert plans["creator"] == {
        "month": "2026-10", "plan": "creator", "users": 2, "sessions": 5, "unpriced_events": 0,
        "revenue_usd": "58", "refunds_usd": "29", "disputes_usd": "0", "fees_usd": "2.28", "fees_actual_usd": "0",
        "fees_estimated_usd": "2.28", "variable_cost_usd": "0.763", "extra_cost_usd": "0", "fixed_cost_usd": "12.5",
        "margin_usd": "13.457", "margin_share": "0.464",
        # Catalog-priced payments: their fees are estimates. Net revenue in the currency paid: $58 − $29.
        "currencies": [{"currency": "usd", "revenue": "29", "revenue_usd": "29"}],
    }  # fmt: skip
    # expert: $79 a session, fee 2.291 + 0.30, the human expert $60, one 1/8 of the server.
    assert plans["expert"]["margin_usd"] == "13.865"
    assert plans["expert"]["extra_cost_usd"] == "60"
    # explorer pays nothing; its unknown-model event is counted, not guessed.
    assert (plans["explorer"]["margin_usd"], plans["explorer"]["unpriced_events"]) == ("-5.045", 1)
    total = data["months"][0]["total"]
    assert total["fixed_cost_usd"] == "20"
    assert D(total["margin_usd"]) == sum(D(p["margin_usd"]) for p in plans.values())
    users = {(u["plan"], u["user_id"]): u["margin_usd"] for u in data["users"]}
    assert users == {("creator", "u_c1"): "20.105", ("creator", "u_c2"): "-6.648", ("expert", "u_x1"): "13.865",
                     ("explorer", "u_e1"): "-5.045"}  # fmt: skip


def test_at_limit_table_matches_the_hand_computation(october: Ledger) -> None:
    rows = {r["plan"]: r for r in margins_json(october, "2026-10")["at_limit"]}
    creator = rows["creator"]
    # Creator session costs sorted: 0.045 0.058 0.09 0.12 0.45 → p50 (rank 3) 0.09, p90 (rank 5) 0.45.
    assert (creator["measured_sessions"], creator["subscribers"]) == (5, 2)
    assert creator["p50"] == {"cost_per_session_usd": "0.09", "cost_usd": "10.14", "margin_usd": "18.86"}
    assert creator["p90"] == {"cost_per_session_usd": "0.45", "cost_usd": "46.14", "margin_usd": "-17.14"}
    assert creator["flag"] == "negative"
    # The explorer session with an unpriced event is not measured (its cost is unknown).
    explorer = rows["explorer"]
    assert (explorer["measured_sessions"], explorer["p90"]["margin_usd"], explorer["flag"]) == (1, "-0.45", "negative")
    # Per-session plan: one session at price 79 − fee 2.591 − (0.045 + 60 expert).
    expert = rows["expert"]
    assert expert["p50"]["margin_usd"] == "16.365" and expert["flag"] == "ok"
    assert expert["measured_on"] == "expert's sessions in modes expert_session"


def test_thin_plans_are_flagged_by_their_min_margin_share(tmp_path: Path) -> None:
    # At p90 0.045 a creator subscriber at 100 sessions leaves 29 − 1.14 − 4.5 = 23.36: 80 % of the price.
    config = parse_config(CONFIG.replace('min_margin_share = "0.2"', 'min_margin_share = "0.85"'))
    with Ledger(tmp_path / "thin.db", config=config) as ledger:
        with ledger.session("s1", user_id="u_c1", tier="creator", mode="combined") as s:
            s.record("anthropic", "claude-sonnet-4-20250514", input_tokens=10_000, output_tokens=1_000,
                     ts="2026-10-02T12:00:00+00:00")  # fmt: skip
        rows = {r.plan.name: r for r in report_for(ledger, "2026-10").at_limit}
    assert rows["creator"].p90 is not None and rows["creator"].p90.margin == D("23.36")
    assert rows["creator"].flag == "thin"


def test_fixed_cost_of_a_month_without_sessions_stays_visible(tmp_path: Path) -> None:
    config = parse_config(CONFIG)
    with Ledger(tmp_path / "quiet.db", config=config) as ledger:
        ledger.record("stripe", "card", amount_usd=29, user_id="u_c1", ts="2026-11-03T06:00:00+00:00")
        report = margin_report(ledger.store, config, ledger.catalog, since=dt.date(2026, 11, 1),
                               until=dt.date(2026, 11, 30))  # fmt: skip
    assert report.unallocated_fixed == {"2026-11": D(20)}
    assert report.total("2026-11").margin == D(29) - D("1.14") - D(20)


def test_months_over_time_and_the_same_figures_on_postgresql(october: Ledger, october_pg: Ledger) -> None:
    sqlite = margins_json(october)
    assert [m["month"] for m in sqlite["months"]] == ["2026-10"]
    assert margins_json(october_pg) == sqlite


def test_a_subscription_wins_over_the_tier_label(tmp_path: Path) -> None:
    config = parse_config(CONFIG)
    with Ledger(tmp_path / "label.db", config=config) as ledger:
        record_october(ledger)
        # u_c1 pays once more under a wrong tier label: still counted as creator revenue.
        ledger.record("stripe", "card", amount_usd=29, user_id="u_c1", tier="explorer", ts="2026-10-15T06:00:00+00:00")
        plans = plan_rows(margins_json(ledger, "2026-10"))
    assert plans["creator"]["revenue_usd"] == "87"
    assert plans["explorer"]["revenue_usd"] == "0"
