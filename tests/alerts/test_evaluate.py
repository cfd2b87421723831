"""Rules are evaluated on ingest, inside the write transaction, once per subject per period."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import writing_as_of
from costledger import Ledger
from costledger.alerts.totals import read_totals
from costledger.errors import ConfigError
from costledger.store import Store, migrate
from costledger.store.writer import write_events

from .conftest import cost_event, ledger_with


def test_session_over_five_dollars_fires_once_for_that_session(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        with ledger.session("room-1", user_id="u1", tier="creator") as s:
            s.record(cost_event("3.00"))
            assert ledger.alerts.history() == []
            s.record(cost_event("2.50"))
            s.record(cost_event("4.00"))  # still over: no second alert for room-1
        ledger.session("room-2").record(cost_event("5.01"))
        alerts = ledger.alerts.history()
    assert [(a.subject, a.period, a.value_usd) for a in alerts] == [
        ("session=room-2", "session", Decimal("5.01")),
        ("session=room-1", "session", Decimal("5.5")),
    ]
    first = alerts[1]
    assert first.rule == "session_total >5" and first.details["user_id"] == "u1"
    assert first.message == "Session room-1 has cost $5.50, over the $5.00 alert threshold (user u1, tier creator)."
    assert [(d.channel, d.status) for d in first.deliveries] == [("log", "pending")]


def test_daily_total_fires_once_per_day_and_rearms_the_next_day(db_path: Path) -> None:
    toml = '[[alerts]]\nkind = "daily_total"\nthreshold_usd = "10"\n'
    with ledger_with(db_path, toml) as ledger:
        ledger.record_many([cost_event("6", ts="2026-11-20T09:00:00Z"), cost_event("3", ts="2026-11-20T10:00:00Z")])
        assert ledger.alerts.history(kind="daily_total") == []
        ledger.record(cost_event("2", ts="2026-11-20T11:00:00Z"))
        ledger.record(cost_event("50", ts="2026-11-20T12:00:00Z"))
        ledger.record(cost_event("10.01", ts="2026-11-21T08:00:00Z"))
        fired = ledger.alerts.history(kind="daily_total")
        rules = {r.name for r in ledger.alerts.all_rules()}
    assert [(a.period, a.value_usd, a.subject) for a in fired] == [
        ("2026-11-21", Decimal("10.01"), "total"),
        ("2026-11-20", Decimal("11"), "total"),
    ]
    assert fired[1].message == "Daily cost for 2026-11-20 is $11.00, over the $10.00 alert threshold."
    assert "daily_total >100" not in rules  # the config's global daily rule replaces the built-in one


def test_alert_thresholds_come_from_the_trackers_environment_variables(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_SESSION_COST", "1.50")
    monkeypatch.setenv("ALERT_DAILY_COST", "2")
    monkeypatch.setenv("ALERT_MONTHLY_COST", "2.5")
    with Ledger(db_path) as ledger:
        ledger.session("s").record(cost_event("1.49"))
        assert ledger.alerts.history() == []
        ledger.session("s").record(cost_event("1.10"))
        kinds = sorted(a.kind for a in ledger.alerts.history())
        sources = {r.kind: r.source for r in ledger.alerts.all_rules()}
    assert kinds == ["daily_total", "monthly_total", "session_total"]
    assert sources["session_total"] == "env" and sources["unpriced"] == "default"


def test_a_bad_threshold_in_the_environment_is_a_config_error(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_DAILY_COST", "lots")
    with pytest.raises(ConfigError, match=r"\$ALERT_DAILY_COST: not a number"):
        Ledger(db_path)


def test_per_user_monthly_rule_fires_for_each_user_over_it(db_path: Path) -> None:
    toml = '[[alerts]]\nkind = "monthly_total"\nper = "user"\nthreshold_usd = "20"\n'
    with ledger_with(db_path, toml) as ledger:
        ledger.record_many(
            [cost_event("15", user_id="u1"), cost_event("5", user_id="u2"),
             cost_event("6", user_id="u1", ts="2026-11-25T10:00:00Z"), cost_event("3", user_id="u3")]
        )  # fmt: skip
        fired = ledger.alerts.history(kind="monthly_total")
    assert [(a.subject, a.period, a.value_usd) for a in fired] == [("user_id=u1", "2026-11", Decimal("21"))]
    assert fired[0].message.startswith("user u1: Month-to-date cost for 2026-11 is $21.00")


def test_only_limits_a_rule_to_one_value(db_path: Path) -> None:
    toml = '[[alerts]]\nkind = "daily_total"\nper = "agent"\nonly = "critic"\nthreshold_usd = "1"\n'
    with ledger_with(db_path, toml) as ledger:
        ledger.record_many([cost_event("2", agent="scholar"), cost_event("1.5", agent="critic")])
        assert [a.subject for a in ledger.alerts.history(kind="daily_total")] == ["agent=critic"]


def test_unpriced_events_raise_one_alert_per_service_and_day_naming_the_model(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        unknown = {"service": "anthropic", "model": "claude-imaginary-9", "ts": "2026-11-20T10:00:00Z",
                   "usage": {"input_tokens": 10}}  # fmt: skip
        assert ledger.record(unknown).unpriced == 1
        ledger.record(unknown)
        ledger.record({**unknown, "ts": "2026-11-20T11:00:00Z"})
        fired = ledger.alerts.history(kind="unpriced")
    assert len(fired) == 1
    assert fired[0].subject == "service=anthropic" and fired[0].details["models"] == ["claude-imaginary-9"]
    assert "1 unpriced anthropic event(s) on 2026-11-20 (model claude-imaginary-9)" in fired[0].message


def test_spike_compares_a_day_with_the_trailing_seven_day_average(db_path: Path) -> None:
    toml = '[[alerts]]\nkind = "spike"\nfactor = "3"\n'
    with ledger_with(db_path, toml) as ledger:
        ledger.record_many([cost_event("10", ts=f"2026-11-{day:02d}T10:00:00Z") for day in range(1, 8)])
        ledger.record(cost_event("29.99", ts="2026-11-08T10:00:00Z"))
        assert ledger.alerts.history(kind="spike") == []
        ledger.record(cost_event("0.02", ts="2026-11-08T11:00:00Z"))
        fired = ledger.alerts.history(kind="spike")
    assert [(a.period, a.value_usd) for a in fired] == [("2026-11-08", Decimal("30.01"))]
    assert "3.0× the trailing 7-day average of $10.00" in fired[0].message


def test_forecast_projects_month_to_date_to_month_end(db_path: Path) -> None:
    toml = '[[alerts]]\nkind = "forecast"\nthreshold_usd = "3000"\n'
    with ledger_with(db_path, toml) as ledger:
        ledger.alerts.evaluator.clock = lambda: dt.datetime(2026, 11, 10, 0, 0)  # 9 days into a 30-day month
        ledger.record(cost_event("800", ts="2026-11-05T10:00:00Z"))  # projects to $2,666.67
        assert ledger.alerts.history(kind="forecast") == []
        ledger.record(cost_event("100", ts="2026-11-06T10:00:00Z"))  # $900 → $3,000.00: not over
        assert ledger.alerts.history(kind="forecast") == []
        ledger.record(cost_event("0.01", ts="2026-11-06T10:00:00Z"))
        fired = ledger.alerts.history(kind="forecast")
    assert len(fired) == 1 and fired[0].details["projection_usd"] == "3000.03"
    assert fired[0].message == (
        "Month-to-date cost $900.01 projects to $3,000.03 for 2026-11, over the $3,000.00 monthly budget."
    )


def test_a_rule_added_elsewhere_applies_to_the_next_write(db_path: Path) -> None:
    with Ledger(db_path) as ingesting, Ledger(db_path) as admin:
        rule = admin.alerts.add_rule({"kind": "daily_total", "per": "tier", "threshold_usd": "0.5"})
        ingesting.record(cost_event("0.75", tier="free"))
        fired = ingesting.alerts.history(kind="daily_total")
        assert [a.rule for a in fired] == [rule.name] == ["daily_total per tier_>0.5".replace("_>", " >")]
        assert admin.alerts.remove_rule(rule.id or 0)
        ingesting.record(cost_event("0.75", tier="pro"))
        assert len(ingesting.alerts.history(kind="daily_total")) == 1


def test_config_errors_name_the_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "costledger.toml"
    path.write_text('[[alerts]]\nkind = "daily_total"\nthreshold_usd = "5"\nchannels = ["pager"]\n')
    with pytest.raises(ConfigError, match=r"costledger.toml:4: alerts\[0\].channels: no \[channels.pager\]"):
        Ledger(tmp_path / "x.db", config=path)
    path.write_text('[[alerts]]\nkind = "weekly"\n')
    with pytest.raises(ConfigError, match=r":2: alerts\[0\].kind: expected one of session_total"):
        Ledger(tmp_path / "x.db", config=path)
    path.write_text('[[alerts]]\nkind = "unpriced"\nper = "user"\n')
    with pytest.raises(ConfigError, match=r":3: alerts\[0\].per: unpriced can be per nothing"):
        Ledger(tmp_path / "x.db", config=path)


def test_upgrading_an_existing_database_counts_its_events_into_period_totals(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "old.db"), upgrade=False)
    migrate.upgrade(store.engine, "0002")
    row = {"event_id": "old", "ts": dt.datetime(2026, 1, 5, 10), "day": dt.date(2026, 1, 5), "service": "deepgram",
           "model": "nova-3", "operation": None, "session_id": "r", "user_id": "u0", "tier": None, "agent": None,
           "mode": None, "endpoint": None, "usage": "{}", "tags": "{}", "meta": "{}", "cost": 4_300_000,
           "cost_source": "catalog", "price_ref": "t", "unpriced_reason": None, "recorded_cost": None,
           "ingested_at": dt.datetime(2026, 1, 5, 10)}  # fmt: skip
    with writing_as_of(store.engine):
        store.transaction(lambda c: write_events(c, [row]))
    migrate.upgrade(store.engine)
    with store.engine.connect() as connection:
        totals = read_totals(
            connection, [("2026-01-05", "", ""), ("2026-01", "user_id", "u0"), ("2026-01", "tier", "")]
        )
    store.close()
    assert totals[("2026-01-05", "", "")].cost == totals[("2026-01", "user_id", "u0")].cost == 4_300_000
    assert totals[("2026-01", "tier", "")].events == 0  # no tier: counted in no tier's total


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_concurrent_writers_on_postgres_fire_a_daily_alert_once(pg_url: str) -> None:
    toml = '[[alerts]]\nkind = "daily_total"\nthreshold_usd = "1"\n'
    ledgers = [ledger_with(pg_url, toml) for _ in range(4)]
    barrier = threading.Barrier(len(ledgers))
    failures: list[BaseException] = []

    def write(ledger: Ledger, n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                ledger.record(cost_event("0.30", event_id=f"w{n}-{i}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(ledger, n)) for n, ledger in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = ledgers[0].alerts.history(kind="daily_total")
    total = ledgers[0].total_usd()
    for ledger in ledgers:
        ledger.close()
    assert not failures
    assert total == Decimal("6")
    assert len(fired) == 1 and fired[0].period == "2026-11-20"
