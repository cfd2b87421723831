"""The demo workload: realistic, deterministic, recorded through the real pipeline, idempotent."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

from costledger import Ledger, load_config
from costledger.demo import MODES, record_workload, workload, write_config

NOW = dt.datetime(2026, 11, 20, 18, 30, tzinfo=dt.UTC)


def test_same_seed_same_events_and_another_seed_differs() -> None:
    first = list(workload(seed=3, days=4, now=NOW))
    again = list(workload(seed=3, days=4, now=NOW))
    other = list(workload(seed=4, days=4, now=NOW))
    assert first == again
    assert [e["event_id"] for e in first] != [e["event_id"] for e in other]


def test_workload_has_every_session_type_service_and_tier() -> None:
    events = list(workload(seed=7, days=35, now=NOW))
    assert {e.get("mode") for e in events} - {None} == set(MODES)
    assert {e["service"] for e in events} == {"anthropic", "deepgram", "cartesia", "livekit", "stripe", "twilio"}
    assert {e.get("tier") for e in events} == {"explorer", "creator", "professional", "expert_session", "api"}
    llm = [e for e in events if e["service"] == "anthropic"]
    assert any(e["usage"].get("cache_read_tokens") for e in llm)
    assert any(e["usage"].get("web_searches") for e in llm)
    assert Counter(e["model"] for e in llm)["claude-experimental-0901"] >= 1
    combined = {e["agent"] for e in events if e.get("mode") == "combined_council" and e.get("agent")}
    assert len(combined) == 15  # 14 council agents and the synthesis
    payments = [e for e in events if e["service"] == "stripe" and e["operation"] == "payment"]
    creator = {(e["metadata"]["stripe"]["currency"], e["metadata"]["stripe"]["card_country"],
                e["usage"]["amount_usd"], e["cost_usd"]) for e in payments if e["tier"] == "creator"}  # fmt: skip
    # Fed by Stripe's webhooks, with the fee Stripe takes (stripe.com/pricing, US account), by hand:
    # US card 2900 × 2.9 % + 30 = 114.1 → $1.14; Canadian card +1.5 %: 2900 × 4.4 % + 30 = 157.6 → $1.58;
    # €29 at 1.0853 = 3147 cents, × (2.9 + 1.5 + 1) % + 30 = 199.938 → $2.00; £29 at 1.2710 = 3686 cents
    # (36.859), × 5.4 % + 30 = 229.044 → $2.29.
    assert creator == {("usd", "US", Decimal("29"), Decimal("1.14")), ("usd", "CA", Decimal("29"), Decimal("1.58")),
                       ("eur", "DE", Decimal("31.47"), Decimal("2.00")),
                       ("gbp", "GB", Decimal("36.86"), Decimal("2.29"))}  # fmt: skip
    # The phone leg of phone calls: Twilio's completed-call callbacks, per started minute.
    calls = [e for e in events if e["service"] == "twilio"]
    assert calls and all(e["mode"] == "phone_call" and e["session_id"] for e in calls)
    assert all(e["ts"] <= NOW for e in events)
    assert min(e["ts"] for e in events).date() == NOW.date() - dt.timedelta(days=34)


def test_some_payments_are_refunded_or_disputed_as_stripe_reports_them() -> None:
    money = [e for e in workload(seed=7, days=90, now=NOW) if e["service"] == "stripe"]
    operations = Counter(e["operation"] for e in money)
    assert operations["payment"] > 100 and operations["refund"] >= 1 and operations["dispute"] >= 1
    disputed = [e for e in money if e["operation"] == "dispute"]
    assert all(e["cost_usd"] == Decimal("15.00") and e["user_id"] for e in disputed)


def test_recorded_through_pricing_once_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    assert write_config(config, NOW.date(), 10)
    loaded = load_config(config)
    assert {p.name for p in loaded.plans} == {"explorer", "creator", "professional", "expert_session", "api"}
    assert {s.mode for s in loaded.session_types} == set(MODES)
    assert loaded.fixed_costs
    with Ledger(tmp_path / "demo.db", config=config) as ledger:
        first = record_workload(ledger, seed=1, days=10, now=NOW, batch=500)
        expected = list(workload(seed=1, days=10, now=NOW))
        assert first.accepted == len(expected)
        unknown = sum(1 for e in expected if e["model"] == "claude-experimental-0901")
        assert first.unpriced == unknown
        again = record_workload(ledger, seed=1, days=10, now=NOW)
        assert (again.accepted, again.duplicates) == (0, len(expected))
        # Later the same day, only sessions that have ended since are new.
        later = record_workload(ledger, seed=1, days=10, now=NOW + dt.timedelta(hours=3))
        assert later.accepted > 0 and later.duplicates == len(expected)
        by_service = {t.group["service"]: t.cost_usd for t in ledger.report("service")}
        assert all(cost > 0 for cost in by_service.values())
        assert ledger.total_usd() == first.cost_usd + later.cost_usd


def test_config_the_user_edited_is_kept(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text("# mine\n", encoding="utf-8")
    assert not write_config(config, NOW.date(), 90)
    assert config.read_text(encoding="utf-8") == "# mine\n"


def test_cli_demo_no_serve_records_and_reports(tmp_path: Path) -> None:
    db = tmp_path / "d" / "ledger.db"
    command = [
        str(Path(sys.executable).with_name("costledger")),
        "demo",
        "--no-serve",
        "--days",
        "3",
        "--seed",
        "5",
        "--db",
        str(db),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "month to date" in done.stdout and "Cost by service" in done.stdout and "Cost by mode" in done.stdout
    # The config goes where the demo ran (the test's working directory), naming the demo's ledger.
    assert load_config(tmp_path / "costledger.toml").database == str(db)
    with Ledger(db) as ledger:
        assert ledger.report([])[0].events > 100
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert "recorded 0 events" in rerun.stdout.replace("\n", " ")
