"""Finding 1, money overflow: every stored cost, rollup and period total was one 64-bit count of
nano-dollars (at most 2^63 - 1 = $9,223,372,036.854775807). One event over it was a 500; on SQLite two
accepted events whose sum passed it turned the rollups and period totals into floats (the API showed
9228502500.123455488 for …456789) and `db check` crashed with "integer overflow".

Now an event costs at most $1,000,000,000 (refused with a 422 naming the field beyond), and every
stored sum is exact however far past 2^63 nano-dollars it goes: through ingest over HTTP, a reprice,
the rollups, sessions, period totals, alerts and budgets, `db check` and the API.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.reprice import audit_log, reprice
from costledger.store import Store, migrate
from costledger.store.check import check_store
from server.harness import start_thread_server, stop_thread_server

TWO_63_USD = Decimal(2**63 - 1).scaleb(-9)  # 9,223,372,036.854775807: what one bigint of nano-dollars held

# Just under the $1,000,000,000 one event may cost.
WHALE = "999999999.123456789"
# 12 × 999,999,999.123456789 = 11,999,999,989.481481468
WHALES_USD = Decimal("11999999989.481481468")
# A service of our own, priced per request in the config, then repriced.
PRICE = """
[[prices]]
service = "gpu-farm"
model = "h100-month"
since = 2000-01-01
rates = {{ requests = {{ usd = "{usd}", per = 1 }} }}

[[budgets]]
scope = "global"
period = "month"
limit_usd = "1"
"""
# 11 requests at $500,000,000 = $5,500,000,000 (below 2^63 nano-dollars) …
GPUS_BEFORE_USD = Decimal("5500000000")
# … repriced at $999,999,999.5 = $10,999,999,994.5 (past it).
GPUS_AFTER_USD = Decimal("10999999994.5")
# whales + repriced GPUs = 11,999,999,989.481481468 + 10,999,999,994.5 = 22,999,999,983.981481468
TOTAL_USD = Decimal("22999999983.981481468")
MINNOW_USD = Decimal("1.5")


def _events(prefix: str, n: int, **fields: object) -> list[dict[str, object]]:
    return [{"event_id": f"{prefix}-{i}", "session_id": "whale", "user_id": "u_whale", **fields} for i in range(n)]


def test_sums_past_2_63_nano_dollars_stay_exact_end_to_end(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text(PRICE.format(usd="500000000"))
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(config))
    server = start_thread_server(store_url)
    try:
        with server.client("ingest") as ingest:
            whales = _events("whale", 12, service="invoice", model="annual", agent="buyer", cost_usd=WHALE)
            answer = ingest.post("/v1/events", json={"events": whales})
            assert answer.status_code == 200, answer.text
            assert answer.json()["cost_usd"] == str(WHALES_USD)
            gpus = _events("gpu", 11, service="gpu-farm", model="h100-month", agent="trainer", usage={"requests": 1})
            answer = ingest.post("/v1/events", json={"events": gpus})
            assert answer.status_code == 200, answer.text
            assert answer.json()["cost_usd"] == str(GPUS_BEFORE_USD)
            minnow = {"event_id": "minnow", "service": "invoice", "model": "annual", "cost_usd": "1.5",
                      "session_id": "minnow"}  # fmt: skip
            assert ingest.post("/v1/events", json={"events": [minnow]}).status_code == 200

        # The price changes; a reprice moves the GPU rollup from below 2^63 nano-dollars to above it.
        config.write_text(PRICE.format(usd="999999999.5"))
        with Ledger(store_url, config=str(config)) as ledger:
            done = reprice(ledger, None, None, service="gpu-farm", note="new rate")
            assert (done.old_cost_usd, done.new_cost_usd, done.changed) == (GPUS_BEFORE_USD, GPUS_AFTER_USD, 11)
            audited = audit_log(ledger)[0]
            assert (audited["old_cost_usd"], audited["new_cost_usd"]) == (str(GPUS_BEFORE_USD), str(GPUS_AFTER_USD))
            assert TOTAL_USD > 2 * TWO_63_USD
            assert ledger.total_usd() == TOTAL_USD + MINNOW_USD
            month = ledger.month_to_date()
            assert (month.cost_usd, month.today_usd) == (TOTAL_USD + MINNOW_USD, TOTAL_USD + MINNOW_USD)
            by_service = {t.group["service"]: t.cost_usd for t in ledger.report(by="service")}
            assert by_service == {"invoice": WHALES_USD + MINNOW_USD, "gpu-farm": GPUS_AFTER_USD}
            # The same sums read from the events (a grouping by session goes there) rather than the rollups.
            assert {t.group["session"]: t.cost_usd for t in ledger.report(by="session")} == {
                "whale": TOTAL_USD, "minnow": MINNOW_USD}  # fmt: skip
            summary = ledger.session_summary("whale")
            assert summary is not None
            assert (summary.cost_usd, summary.by_agent) == (TOTAL_USD, {"buyer": WHALES_USD, "trainer": GPUS_AFTER_USD})
            view = ledger.overview()
            assert sorted((m.p50_usd, m.p90_usd, m.cost_usd) for m in view.by_mode) == [
                (MINNOW_USD, TOTAL_USD, TOTAL_USD + MINNOW_USD)]  # fmt: skip
            budget = ledger.budgets.check("0")
            assert (budget.allowed, budget.spent) == (False, TOTAL_USD + MINNOW_USD)
            assert check_store(ledger.store) == []

        checked = CliRunner().invoke(app, ["db", "check", "--json", "--db", store_url])
        assert checked.exit_code == 0, checked.output
        assert json.loads(checked.output) == []

        with server.client() as admin:
            costs = admin.get("/v1/costs", params={"group_by": "service"}).json()
            assert costs["cost_usd"] == str(TOTAL_USD + MINNOW_USD)
            assert {r["group"]["service"]: r["cost_usd"] for r in costs["rows"]} == {
                "invoice": str(WHALES_USD + MINNOW_USD), "gpu-farm": str(GPUS_AFTER_USD)}  # fmt: skip
            daily = admin.get("/v1/costs/daily", params={"days": 1}).json()
            assert daily["cost_usd"] == str(TOTAL_USD + MINNOW_USD)
            listed = admin.get("/v1/sessions", params={"sort": "cost", "order": "desc"}).json()["sessions"]
            assert [(s["session_id"], s["cost_usd"]) for s in listed] == [("whale", str(TOTAL_USD)),
                                                                          ("minnow", str(MINNOW_USD))]  # fmt: skip
            big = admin.get("/v1/sessions", params={"min_cost": "1000000000"}).json()["sessions"]
            assert [s["session_id"] for s in big] == ["whale"]
            one = admin.get("/v1/sessions/whale").json()
            assert one["session"]["by_service"] == {"gpu-farm": str(GPUS_AFTER_USD), "invoice": str(WHALES_USD)}
            # The built-in daily rule ($100) fired on the first batch, with its figure exact.
            fired = {a["kind"]: a for a in admin.get("/v1/alerts").json()["alerts"]}
            assert fired["daily_total"]["value_usd"] == str(WHALES_USD)
            check = admin.get("/v1/budget/check", params={"estimate_usd": "0"}).json()
            assert check["spent_usd"] == str(TOTAL_USD + MINNOW_USD)
    finally:
        stop_thread_server(server)


def test_one_event_over_the_limit_is_refused_naming_the_field(store_url: str) -> None:
    server = start_thread_server(store_url)
    try:
        with server.client("ingest") as ingest:
            over = {"service": "invoice", "cost_usd": "1000000000.000000001"}
            answer = ingest.post("/v1/events", json={"events": [over]})
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] == "cost_usd"
            # A Stripe charge whose fee passes the limit: 2.9% × $1e12 + $0.30 = $29,000,000,000.30.
            charge = {"service": "stripe", "model": "card", "usage": {"amount_usd": 10**12}}
            answer = ingest.post("/v1/events", json={"events": [{"service": "invoice", "cost_usd": "1"}, charge]})
            assert answer.status_code == 422, answer.text
            (error,) = answer.json()["errors"]
            assert (error["index"], error["field"]) == (1, "usage")
            assert "29000000000.3" in error["message"]
        with server.client() as admin:
            assert admin.get("/v1/costs").json()["events"] == 0  # nothing of either batch was stored
    finally:
        stop_thread_server(server)


def test_a_ledger_written_before_keeps_its_sums_and_db_check_lists_an_old_overflow(store_url: str) -> None:
    """Sums an earlier version stored: one event of $9e9 (9 × 10^18 nano-dollars, below 2^63) upgrades to
    the same exact figures; on SQLite, a rollup two events of $5e9 had already turned into a float is
    listed by `db check` (whose recount crashed with "integer overflow" before) rather than trusted."""
    store = Store(store_url, upgrade=False)
    try:
        migrate.upgrade(store.engine, "0004")
        nine = 9 * 10**18
        with store.engine.begin() as connection:
            event = {"event_id": "big", "ts": dt.datetime(2026, 11, 2, 10), "day": dt.date(2026, 11, 2),
                     "service": "invoice", "session_id": "s", "usage": "{}", "tags": "{}", "meta": "{}",
                     "cost": nine, "cost_source": "reported", "ingested_at": dt.datetime(2026, 11, 2, 10)}  # fmt: skip
            _insert(connection, "events", event)
            counts = {"events": 1, "unpriced": 0, "cost": nine}
            dims = {"model": "", "agent": "", "user_id": "", "tier": "", "mode": ""}
            _insert(connection, "rollup_daily", {"day": event["day"], "service": "invoice", **dims, **counts})
            _insert(connection, "sessions", {"session_id": "s", "started_at": event["ts"], "ended_at": event["ts"],
                                             **counts})  # fmt: skip
            _insert(connection, "session_costs", {"session_id": "s", "service": "invoice", "agent": "", **counts})
            for period, dimension, value in (
                ("2026-11-02", "", ""),
                ("2026-11", "", ""),
                ("2026-11-02", "service", "invoice"),
                ("2026-11", "service", "invoice"),
            ):
                _insert(connection, "period_totals", {"period": period, "dimension": dimension, "value": value,
                                                      **counts})  # fmt: skip
            if store.dialect == "sqlite":  # two events of $5e9: SQLite's integer + integer past 2^63 left a float
                half = {
                    **event,
                    "day": dt.date(2026, 11, 3),
                    "service": "float",
                    "session_id": None,
                    "cost": 5 * 10**18,
                }
                for i in (1, 2):
                    _insert(connection, "events", {**half, "event_id": f"half-{i}"})
                _insert(connection, "rollup_daily", {"day": dt.date(2026, 11, 3), "service": "float", **dims,
                                                     "events": 2, "unpriced": 0, "cost": 1e19})  # fmt: skip
    finally:
        store.close()
    with Ledger(store_url) as ledger:
        assert ledger.session_summary("s").cost_usd == Decimal("9000000000")  # type: ignore[union-attr]
        assert ledger.month_to_date(dt.date(2026, 11, 2)).cost_usd == Decimal("9000000000")
        differences = check_store(ledger.store)
    checked = CliRunner().invoke(app, ["db", "check", "--json", "--db", store_url])
    assert "Traceback" not in checked.output and "overflow" not in checked.output, checked.output
    if store_url.endswith(".db"):
        assert checked.exit_code == 1
        assert [d.field for d in differences if d.table == "rollup_daily" and d.key["service"] == "float"], differences
    else:
        assert (checked.exit_code, differences) == (0, [])


def _insert(connection: Any, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row)
