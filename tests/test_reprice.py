"""Reprice on purpose: an unknown model, priced later, gets its cost only when asked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.reprice import audit_log, reprice
from costledger.store.check import check_store
from costledger.store.schema import events

T0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
PRICED = """
[[prices]]
service = "acme"
model = "brain-1"
since = 2026-01-01
input_per_mtok = "2"
output_per_mtok = "10"
"""


def _record(url: str) -> None:
    with Ledger(url) as ledger, ledger.session("room-1", user_id="u1") as s:
        s.record("acme", "brain-1", input_tokens=1_000_000, output_tokens=100_000, ts=T0, event_id="a1")
        s.record("acme", "brain-1", input_tokens=500_000, ts=T0 + dt.timedelta(days=1), event_id="a2")
        s.record("acme", "brain-1", input_tokens=1_000_000, ts=T0 + dt.timedelta(days=20), event_id="late")
        s.record("acme", "brain-1", input_tokens=7, cost_usd="0.5", ts=T0, event_id="reported")
        s.record("deepgram", "nova-3", audio_seconds=60, ts=T0, event_id="dg")


def _priced_ledger(url: str, tmp_path: Path) -> Ledger:
    config = tmp_path / "costledger.toml"
    config.write_text(PRICED)
    return Ledger(url, config=config)


def _rows(ledger: Ledger) -> dict[str, tuple[object, ...]]:
    with ledger.store.engine.connect() as c:
        rows = c.execute(select(events.c.event_id, events.c.cost, events.c.cost_source, events.c.price_ref))
        return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reprice_prices_a_newly_known_model_and_rollups_follow(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(tmp_path / "r.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    _record(url)
    with _priced_ledger(url, tmp_path) as ledger:
        # A new config prices new events, but history keeps what it was until repriced.
        assert ledger.total_usd() == Decimal("0.5") + Decimal("0.0043")
        assert [t.unpriced for t in ledger.report([])] == [3]

        dry = reprice(ledger, dt.date(2026, 11, 1), dt.date(2026, 11, 15), dry_run=True)
        assert (dry.events, dry.changed, dry.unpriced_before, dry.unpriced_after) == (4, 2, 2, 0)
        assert dry.new_cost_usd - dry.old_cost_usd == Decimal("4")  # a1: $2 in + $1 out; a2: $1 in
        before = _rows(ledger)
        assert ledger.total_usd() == Decimal("0.5043") and _rows(ledger) == before

        done = reprice(ledger, dt.date(2026, 11, 1), dt.date(2026, 11, 15), service="ACME", note="priced brain-1")
        assert (done.events, done.changed, done.old_cost_usd, done.new_cost_usd) == (
            3, 2, Decimal("0.5"), Decimal("4.5"),
        )  # fmt: skip
        rows = _rows(ledger)
        assert rows["a1"] == (3_000_000_000, "catalog", rows["a1"][2]) and rows["a1"][2]
        assert rows["a2"][0] == 1_000_000_000
        assert rows["late"][0] is None  # outside the range: untouched
        assert rows["reported"] == before["reported"]  # a reported cost is kept
        assert ledger.total_usd() == Decimal("4.5043")
        summary = ledger.session_summary("room-1")
        assert summary is not None and summary.cost_usd == Decimal("4.5043") and summary.unpriced == 1
        assert check_store(ledger.store) == []

        again = reprice(ledger, dt.date(2026, 11, 1), dt.date(2026, 11, 15))
        assert again.changed == 0 and again.old_cost_usd == again.new_cost_usd

        log = audit_log(ledger)
        assert [(e["dry_run"], e["changed"], e["service"]) for e in log] == [
            (False, 0, None), (False, 2, "acme"), (True, 2, None),
        ]  # fmt: skip
        assert log[1]["old_cost_usd"] == "0.5" and log[1]["new_cost_usd"] == "4.5"
        assert (log[1]["unpriced_before"], log[1]["unpriced_after"]) == (2, 0)
        assert log[1]["note"] == "priced brain-1"
        assert log[1]["since"] == "2026-11-01T00:00:00+00:00" and log[1]["until"] == "2026-11-16T00:00:00+00:00"


def test_reprice_can_also_unprice_when_a_price_goes_away(tmp_path: Path) -> None:
    url = str(tmp_path / "u.db")
    with _priced_ledger(url, tmp_path) as ledger:
        ledger.record("acme", "brain-1", input_tokens=1_000_000, ts=T0, session_id="s", event_id="x")
        assert ledger.total_usd() == Decimal("2")
    (tmp_path / "none.toml").write_text("")  # the price is gone from the config
    with Ledger(url, config=tmp_path / "none.toml") as ledger:
        calls: list[tuple[int, int]] = []
        done = reprice(ledger, None, None, model="brain-1", progress=lambda *call: calls.append(call))
        assert (done.changed, done.unpriced_after) == (1, 1)
        assert calls == [(0, 1), (1, 1)]
        assert ledger.total_usd() == 0 and [t.unpriced for t in ledger.report([])] == [1]
        assert check_store(ledger.store) == []


def test_reprice_refuses_an_empty_range(tmp_path: Path) -> None:
    with Ledger(tmp_path / "e.db") as ledger, pytest.raises(ValueError, match="before"):
        reprice(ledger, dt.date(2026, 11, 5), dt.date(2026, 11, 4))


def test_cli_reprice_dry_run_then_for_real_with_history(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    _record(db)
    (tmp_path / "costledger.toml").write_text(PRICED)
    runner = CliRunner()
    refused = runner.invoke(app, ["reprice", "--db", db])
    assert refused.exit_code == 2 and "on purpose" in refused.output
    dry = runner.invoke(app, ["reprice", "--db", db, "--since", "2026-11-01", "--until", "2026-11-30", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would change 3" in dry.output and "dry run" in dry.output
    real = runner.invoke(app, ["reprice", "--db", db, "--since", "2026-11-01", "--until", "2026-11-30", "--json"])
    assert real.exit_code == 0, real.output
    assert '"changed": 3' in real.stdout and '"new_cost_usd": "6.5043"' in real.stdout
    history = runner.invoke(app, ["reprice", "--history", "--json", "--db", db])
    assert history.exit_code == 0 and history.stdout.count('"dry_run"') == 2
