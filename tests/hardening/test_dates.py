"""Finding 3, dates at the edges: one accepted event at 9999-12-31T23:59:59Z made /v1/margins and
/v1/recommendations answer 500 from then on; a ts whose UTC form left years 1-9999 was a 500 at ingest;
19 of 56 boundary-date reads (since=0001-01-01, 9999-12-31, 0) were 500s, some after 11-14 s.

Now every entry point and query parameter takes 2000-01-01 to 2099-12-31 (UTC) only, written strictly,
with a 422 naming the field; and a ledger that already holds a date outside it (written by an earlier
version) answers every read.
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing

from typer.testing import CliRunner

from costledger.cli import app
from costledger.store import Store
from server.harness import ThreadServer

from .conftest import signed_in

READS = ["/v1/costs", "/v1/costs/daily", "/v1/sessions", "/v1/margins", "/v1/recommendations"]
PAGES = ["/", "/sessions", "/users", "/agents", "/margins"]
OUTSIDE = ["0001-01-01", "9999-12-31", "0", "1999-12-31", "2100-01-01", "2026-02-30", "1700000000", "2026-11"]
EDGES = ["2000-01-01", "2099-12-31"]


def test_ingest_refuses_times_outside_the_window_naming_the_field(server: ThreadServer) -> None:
    refused = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
               "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00", 1700000000, 1.7e9,
               "1700000000", "2026-11-22T10:15Z", "2026-11-22", "20261122T101500Z"]  # fmt: skip
    with server.client("ingest") as ingest:
        for ts in refused:
            answer = ingest.post("/v1/events", json={"events": [{"service": "x", "ts": "2026-11-22T10:15:00Z"},
                                                                {"service": "x", "ts": ts}]})  # fmt: skip
            assert answer.status_code == 422, (ts, answer.text)
            (error,) = answer.json()["errors"]
            assert (error["index"], error["field"]) == (1, "ts"), ts
        for ts in ["2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "2100-01-01T00:59:59+01:00"]:
            answer = ingest.post("/v1/events", json={"events": [{"service": "x", "ts": ts}]})
            assert answer.status_code == 200, (ts, answer.text)


def test_every_date_parameter_outside_the_window_is_a_422_naming_it(server: ThreadServer) -> None:
    with server.client() as admin:
        for path in READS:
            for name in ("since", "until"):
                for value in OUTSIDE:
                    answer = admin.get(path, params={name: value})
                    assert answer.status_code == 422, (path, name, value, answer.text)
                    assert answer.json()["errors"][0]["field"] == f"query.{name}", (path, name, value)
                for value in EDGES:
                    answer = admin.get(path, params={name: value})
                    # Taken as a date: 200, or a 422 of the range itself (since after the last day with data).
                    assert answer.status_code == 200 or "is after" in answer.json()["detail"], (path, name, value)
        for value in ["9999-12", "0001-01", "1999-12", "2100-01", "2026-13"]:
            assert admin.get("/v1/margins", params={"month": value}).status_code == 422, value
        for name, path in (("since", "/v1/alerts"), ("at", "/v1/prices")):
            for value in [*OUTSIDE[:6], "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"]:
                answer = admin.get(path, params={name: value})
                assert answer.status_code == 422, (path, value, answer.text)
            assert admin.get(path, params={name: "2099-12-31T23:59:59Z"}).status_code == 200
    with closing(signed_in(server.url, server.keys.admin)) as browser:
        for path in PAGES:
            for value in OUTSIDE:
                assert browser.get(path, params={"since": value}).status_code == 422, (path, value)
            # A century of daily trend was 12 MB of page and 8 s of work: at most three years.
            answer = browser.get(path, params={"since": EDGES[0], "until": EDGES[1]})
            assert answer.status_code == 422 and "three years" in answer.text, path  # a page naming the bound
            assert browser.get(path, params={"since": "2097-01-01", "until": EDGES[1]}).status_code == 200, path


def test_a_ledger_already_holding_dates_outside_the_window_answers_every_read(
    server: ThreadServer, store_url: str
) -> None:
    """Events an earlier version accepted at 9999-12-31 and 0001-01-01, written as it wrote them."""
    store = Store(store_url)
    try:
        for when in (dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(1, 1, 1, 0, 0, 1)):
            store.write([{
                "event_id": f"edge-{when.year}", "ts": when, "day": when.date(), "service": "stripe", "model": "card",
                "operation": None, "session_id": f"s-{when.year}", "user_id": "u_edge", "tier": "creator",
                "agent": "a", "mode": "voice", "endpoint": None, "usage": '{"amount_usd": 29}', "tags": "{}",
                "meta": "{}", "cost": 1_141_000_000, "cost_source": "catalog", "price_ref": "stripe", "unpriced_reason":
                None, "recorded_cost": None, "ingested_at": dt.datetime(2026, 11, 1), "service_tier": None,
            }])  # fmt: skip
    finally:
        store.close()
    with server.client() as admin:
        for path in [*READS, "/v1/sessions/s-9999", "/v1/sessions/s-1", "/v1/alerts"]:
            for params in ({}, {"group_by": "day,week,month"} if path == "/v1/costs" else {"limit": 5}):
                answer = admin.get(path, params=params)
                assert answer.status_code == 200, (path, params, answer.text)
        assert admin.get("/v1/costs", params={"group_by": "month"}).json()["events"] == 2
    with closing(signed_in(server.url, server.keys.admin)) as browser:
        for path in [*PAGES, "/sessions/s-9999", "/session-types", "/alerts"]:
            assert browser.get(path).status_code == 200, path
    runner = CliRunner()
    for command in (["margins", "--json"], ["advice", "--json"], ["report", "--by", "month", "--json"],
                    ["whatif", "--swap", "stripe:card=stripe:card", "--json"], ["db", "check", "--json"]):  # fmt: skip
        result = runner.invoke(app, [*command, "--db", store_url])
        assert result.exit_code in (0, 1), (command, result.output)  # 1: db check lists differences, no crash
        assert "Traceback" not in result.output, command
