"""What the pages show, built from the library on a real SQLite file: same numbers as the store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from costledger import Ledger
from costledger.dashboard.config_pages import prices_page, session_types_page
from costledger.dashboard.pages import overview_page, regroup, spenders_page
from costledger.dashboard.tables import Column, Table
from costledger.demo import record_workload, write_config
from costledger.store import Filters, queries

NOW = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def demo_ledger(tmp_path: Path, estimates: str | None = None) -> Ledger:
    config = tmp_path / "costledger.toml"
    write_config(config, TODAY, 40)
    if estimates is not None:
        config.write_text(config.read_text(encoding="utf-8") + estimates, encoding="utf-8")
    ledger = Ledger(tmp_path / "ledger.db", config=config)
    record_workload(ledger, seed=2, days=40, now=NOW)
    return ledger


def test_weeks_and_months_are_the_stores_weeks_and_months(tmp_path: Path) -> None:
    with demo_ledger(tmp_path) as ledger:
        ranged = Filters(since=TODAY - dt.timedelta(days=59), until=TODAY, dims={"tier": "creator"})
        with ledger.store.engine.connect() as connection:
            daily = queries.daily_trend(connection, 60, ranged, today=TODAY)
            weeks = queries.totals(connection, ["week"], ranged)
            months = queries.totals(connection, ["month"], ranged)
        assert regroup(daily, "week", lambda d: (d - dt.timedelta(days=d.weekday())).isoformat()) == weeks
        assert regroup(daily, "month", lambda d: d.isoformat()[:7]) == months
        page = overview_page(ledger, ranged, TODAY, open_alerts=None)
        view = page.extra["overview"]
        services = page.table("services")
        assert services is not None
        assert [(r["service"], r["cost_usd"]) for r in services.rows] == [
            (s.service, s.cost_usd) for s in view.by_service
        ]
        assert sum(r["cost_usd"] for r in services.rows) == ledger.total_usd(
            since=TODAY.replace(day=1), until=TODAY, tier="creator"
        )


def test_top_spenders_match_the_report(tmp_path: Path) -> None:
    with demo_ledger(tmp_path) as ledger:
        page = spenders_page(ledger, Filters(), TODAY, "agent")
        table = page.table("top_agents")
        assert table is not None
        since = TODAY - dt.timedelta(days=89)
        report = ledger.report("agent", since=since, until=TODAY)
        expected = [(t.group["agent"], t.cost_usd) for t in report if t.group["agent"]][:25]
        assert [(r["agent"], r["cost_usd"]) for r in table.rows] == expected
        assert sum(r["share"] for r in table.rows) <= 1


def test_session_types_are_flagged_outside_their_estimate(tmp_path: Path) -> None:
    extra = '\n[[session_types]]\nmode = "made_up_mode"\nestimate_usd = ["1", "2"]\n'
    with demo_ledger(tmp_path, extra) as ledger:
        page = session_types_page(ledger, Filters(), TODAY)
        table = page.table("session_types")
        assert table is not None
        verdicts = {r["mode"]: r["verdict"] for r in table.rows}
        assert verdicts["expert_council"] == "above estimate"  # the demo's estimate is low on purpose
        # Voiced at Cartesia's real credit price, the council's speech alone costs more than its estimate.
        assert verdicts["combined_council"] == "above estimate"
        assert verdicts["api_deliberation"] == "within"
        assert verdicts["made_up_mode"] == "no sessions"
        for row in table.rows:
            if row["p50_usd"] is None:
                continue
            low, high = row["estimate_low"], row["estimate_high"]
            outside = row["p50_usd"] < low or row["p50_usd"] > high or row["p90_usd"] > high
            assert row["flag"] == outside


def test_prices_page_marks_overrides_and_lists_fixed_costs(tmp_path: Path) -> None:
    override = ('\n[[prices]]\nservice = "deepgram"\nmodel = "nova-3"\nsince = 2026-01-01\n'
                'audio_per_minute = "0.004"\nsource = "negotiated"\n')  # fmt: skip
    with demo_ledger(tmp_path, override) as ledger:
        page = prices_page(ledger, TODAY)
        prices = page.table("prices")
        fixed = page.table("fixed_costs")
        assert prices is not None and fixed is not None
        nova = next(r for r in prices.rows if r["service"] == "deepgram" and r["model"] == "nova-3")
        assert nova["override"] == "override" and nova["source"] == "negotiated"
        sonnet = [r for r in prices.rows if r["service"] == "anthropic" and r["model"].startswith("claude-sonnet-4")]
        assert sonnet and "docs.anthropic.com" in sonnet[0]["source"]
        assert sum(r["monthly_usd"] for r in fixed.rows) == Decimal("84")


def test_table_cells_for_people_and_csv_for_machines() -> None:
    columns = [Column("name", "Name", link="/sessions/{name}"), Column("cost", "Cost", "money")]
    rows = [{"name": "a/b c", "cost": Decimal("1234.567890123")}, {"name": "x", "cost": Decimal("0.0042")}]
    table = Table("t", "T", columns, rows)
    cells = [table.cell(c, r) for r in table.rows for c in table.columns]
    assert cells == ["a/b c", "$1,234.57", "x", "$0.0042"]
    assert table.href(table.columns[0], table.rows[0]) == "/sessions/a%2Fb%20c"
    assert table.csv() == "name,cost\na/b c,1234.567890123\nx,0.0042\n"
