"""`costledger alerts add|list|remove|history|ack|deliver`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app

from .conftest import cost_event

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_remove_a_rule(db_path: Path) -> None:
    db = str(db_path)
    out = _run("alerts", "add", "daily_total", "--per", "user", "--threshold", "20", "--db", db)
    assert out.startswith("added rule 1: daily_total per user_id >20 (daily cost per user over $20.00) → log")
    listed = json.loads(_run("alerts", "list", "--json", "--db", db))
    assert [r["name"] for r in listed] == [
        "session_total >5", "daily_total >100", "monthly_total >2000", "unpriced", "daily_total per user_id >20",
    ]  # fmt: skip
    assert listed[-1] == {"id": 1, "name": "daily_total per user_id >20", "source": "cli", "kind": "daily_total",
                          "threshold_usd": "20", "per": "user", "channels": ["log"]}  # fmt: skip
    assert "removed rule 1" in _run("alerts", "remove", "1", "--db", db)
    failed = runner.invoke(app, ["alerts", "remove", "1", "--db", db])
    assert failed.exit_code == 1 and "no CLI-added rule 1" in failed.output


def test_add_refuses_a_bad_rule_naming_the_option(db_path: Path) -> None:
    result = runner.invoke(app, ["alerts", "add", "daily_total", "--db", str(db_path)])
    assert result.exit_code == 2 and "--threshold: is required for daily_total" in result.output
    result = runner.invoke(app, ["alerts", "add", "daily_total", "--threshold", "1", "--channel", "pager",
                                "--db", str(db_path)])  # fmt: skip
    assert result.exit_code == 2 and "no [channels.pager] table" in result.output


def test_history_ack_and_deliver(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.session("big").record(cost_event("9"))
    db = str(db_path)
    fired = json.loads(_run("alerts", "history", "--json", "--db", db))
    assert [(a["id"], a["subject"], a["value_usd"], a["deliveries"][0]["status"]) for a in fired] == [
        (1, "session=big", "9", "pending")
    ]
    assert json.loads(_run("alerts", "deliver", "--once", "--db", db)) == {"attempted": 1, "published": 0}
    assert "acknowledged 1 alert(s)" in _run("alerts", "ack", "1", "--by", "ana", "--db", db)
    after = json.loads(_run("alerts", "history", "--json", "--db", db))[0]
    assert after["acked_by"] == "ana" and after["deliveries"][0]["status"] == "sent"
    assert json.loads(_run("alerts", "history", "--unacked", "--json", "--db", db)) == []
    first, *message = _run("alerts", "history", "--db", db).strip().splitlines()
    assert first.startswith("#1 ") and first.endswith("Z [session_total >5] (log sent; acked by ana)")
    assert " ".join(m.strip() for m in message) == "Session big has cost $9.00, over the $5.00 alert threshold."
