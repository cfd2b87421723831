"""`costledger import --format stripe`: history from an export, stored as the webhook stores it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.config import parse_config
from costledger.importers import BadLine, import_path
from costledger.margins import margins_json

from . import payloads as p
from .test_stripe_objects import AT, EUR_TXN, eur_charge

D = Decimal
CONFIG = '[[plans]]\nname = "creator"\nprice_usd = "29"\n\n[stripe]\nusd_rates = { gbp = "1.27" }\n'


def export(tmp_path: Path) -> Path:
    """`stripe events list` output: an EUR payment with its balance transaction, a GBP one without, a refund."""
    gbp = p.charge(20, 2900, "gbp", AT, metadata={"user_id": "u_20", "plan": "creator"}, country="GB")
    refunded = p.charge(21, 2900, "usd", AT, metadata={"user_id": "u_21"}, refunded=2900)
    listing = {
        "object": "list",
        "url": "/v1/events",
        "has_more": False,
        "data": [
            p.event("charge.refunded", refunded, AT + 60, number=3, previous_attributes={"amount_refunded": 0}),
            p.event("charge.succeeded", gbp, AT, number=2),
            p.event(
                "charge.succeeded",
                eur_charge(txn=EUR_TXN) | {"metadata": {"user_id": "u_17", "plan": "creator"}},
                AT,
                number=1,
            ),
            p.event("customer.created", {"id": "cus_1", "object": "customer"}, AT, number=4),
        ],
    }
    path = tmp_path / "events.json"
    path.write_text(json.dumps(listing, indent=2), encoding="utf-8")
    return path


def test_an_export_imports_as_the_webhook_would_and_again_adds_nothing(tmp_path: Path) -> None:
    path = export(tmp_path)
    with Ledger(tmp_path / "history.db", config=parse_config(CONFIG)) as ledger:
        first = import_path(ledger, path, "stripe")
        assert (first.accepted, first.duplicates, first.lines) == (3, 0, 4)
        assert import_path(ledger, path, "stripe").accepted == 0
        # The same events as JSON lines are the same events.
        lines = tmp_path / "events.jsonl"
        lines.write_text("\n".join(json.dumps(e) for e in json.loads(path.read_text())["data"]), encoding="utf-8")
        assert import_path(ledger, lines, "stripe").duplicates == 3
        (month,) = margins_json(ledger)["months"]
    creator = next(row for row in month["plans"] if row["plan"] == "creator")
    # EUR: $31.47 with Stripe's $2.00. GBP on a British card: £29 × 1.27 = $36.83, its fee the catalog's
    # estimate by Stripe's rules (stripe.com/pricing): (2.9 + 1.5 international + 1 conversion) % × 36.83
    # = 1.98882, + 0.30 = 2.28882 → $2.29 (rounded half-up to the cent per charge).
    assert D(creator["revenue_usd"]) == D("31.47") + D("36.83")
    assert (creator["fees_actual_usd"], creator["fees_estimated_usd"]) == ("2", "2.29")
    assert {c["currency"]: c["revenue"] for c in creator["currencies"]} == {"eur": "29", "gbp": "29"}
    no_plan = next(row for row in month["plans"] if row["plan"] is None)
    assert (no_plan["revenue_usd"], no_plan["refunds_usd"]) == ("0", "29")


def test_an_event_that_cannot_be_read_refuses_the_file_naming_its_position(tmp_path: Path) -> None:
    broken = [p.event("charge.succeeded", p.charge(30, 2900, "usd", AT), AT),
              p.event("charge.succeeded", p.charge(31, 2900, "chf", AT), AT, number=2)]  # fmt: skip
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with Ledger(tmp_path / "broken.db") as ledger:
        with pytest.raises(BadLine, match=r"broken.json:2: charge.succeeded evt_3Q0+2: .*usd_rates"):
            import_path(ledger, path, "stripe")
        assert ledger.report([]) == []


def test_cli_import_stripe(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(app, ["import", str(export(tmp_path)), "--format", "stripe", "--db", db,
                                      "--config", str(config)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["accepted"] == 3
    bad = tmp_path / "bad.json"
    bad.write_text('{"object": "list", "data": [{"object": "charge"}]}', encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(bad), "--format", "stripe", "--db", db])
    assert result.exit_code == 1 and "bad.json:1: not a Stripe event" in result.output
