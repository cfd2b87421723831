"""A plan's margin at its limit below X raises an alert, once per plan per month (issues 6 and 8)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costledger import Ledger, clock
from costledger.cli import app
from costledger.config import parse_config

CONFIG = """
[[plans]]
name = "creator"
price_usd = "29"
included_sessions = 100

[[alerts]]
kind = "plan_margin"
threshold_usd = "{threshold}"
"""


def _record(ledger: Ledger, when: dt.datetime) -> None:
    # Six creator sessions: three at $0.10, three at $0.45. Nearest-rank p90 = $0.45.
    for n, cost in enumerate(["0.10", "0.10", "0.10", "0.45", "0.45", "0.45"]):
        with ledger.session(f"s{n}", user_id=f"u{n % 2}", tier="creator", mode="combined") as s:
            s.record("anthropic", "claude-sonnet-4-20250514", input_tokens=1, cost_usd=cost, ts=when, event_id=f"e{n}")


def _ledger(path: Path, threshold: str) -> Ledger:
    return Ledger(path / "ledger.db", config=parse_config(CONFIG.format(threshold=threshold)))


def test_a_plan_whose_margin_at_limit_is_below_the_threshold_alerts_once_a_month(tmp_path: Path) -> None:
    october = dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC)
    with _ledger(tmp_path, "0") as ledger:
        _record(ledger, october)
        # Ingest alone never evaluates it: the at-limit table is a scheduled check.
        assert ledger.alerts.history() == []
        now = dt.datetime(2026, 10, 20, 9)
        assert ledger.alerts.check_plans(now) == 1
        assert ledger.alerts.check_plans(now) == 0  # the same plan and month: no second alert
        (alert,) = ledger.alerts.history()
    # $29 − (2.9% × $29 + $0.30 = $1.141, to the cent $1.14) − 100 × $0.45 = −$17.14
    assert (alert.kind, alert.subject, alert.period) == ("plan_margin", "plan=creator", "2026-10")
    assert alert.details["margin_at_limit_usd"] == "-17.14"
    assert alert.details["payment_fee_usd"] == "1.14"
    assert "-$17.14" in alert.message and "100 sessions" in alert.message
    assert Decimal(alert.details["p90_cost_per_session_usd"]) == Decimal("0.45")


@pytest.mark.parametrize(("threshold", "fired"), [("0", 0), ("20", 1)])
def test_a_cheap_plan_is_quiet_unless_its_margin_is_thinner_than_asked(
    tmp_path: Path, threshold: str, fired: int
) -> None:
    with _ledger(tmp_path, threshold) as ledger:
        for n in range(3):  # $29 − $1.14 − 100 × $0.10 = $17.86 at the limit
            with ledger.session(f"c{n}", user_id="u9", tier="creator", mode="combined") as s:
                s.record("anthropic", "claude-sonnet-4-20250514", input_tokens=1, cost_usd="0.10",
                         ts=dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC), event_id=f"c{n}")  # fmt: skip
        assert ledger.alerts.check_plans(dt.datetime(2026, 10, 20, 9)) == fired
        assert [a.details["margin_at_limit_usd"] for a in ledger.alerts.history()] == ["17.86"] * fired


def test_alerts_check_command_runs_the_scheduled_rules(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG.format(threshold="0"))
    db = tmp_path / "cli.db"
    with Ledger(db, config=config) as ledger:
        _record(ledger, clock.now())
    result = CliRunner().invoke(app, ["alerts", "check", "--db", str(db), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"fired": 1}
