"""GET /v1/margins and GET /v1/recommendations over loopback, admin only."""

from __future__ import annotations

from pathlib import Path

import pytest

from costledger import Ledger
from server.harness import start_thread_server, stop_thread_server

from .conftest import CONFIG, record_october


def test_margins_and_recommendations_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(config))
    database = str(tmp_path / "api.db")
    with Ledger(database, config=config) as ledger:
        record_october(ledger)
    running = start_thread_server(database)
    try:
        with running.client() as http:
            margins = http.get("/v1/margins", params={"month": "2026-10"})
            assert margins.status_code == 200, margins.text
            data = margins.json()
            assert data["months"][0]["total"]["margin_usd"] == "22.277"
            creator = next(r for r in data["at_limit"] if r["plan"] == "creator")
            assert creator["p90"]["margin_usd"] == "-17.14"
            advice = http.get("/v1/recommendations", params={"since": "2026-10-01", "until": "2026-10-30"})
            assert advice.status_code == 200, advice.text
            assert advice.json()["recommendations"][0]["usd_per_month"] == "6.65"
            assert http.get("/v1/margins", params={"month": "Oct"}).status_code == 422
            assert http.get("/v1/margins", params={"since": "2026-10-31", "until": "2026-10-01"}).status_code == 422
        with running.client("ingest") as http:
            assert http.get("/v1/margins").status_code == 403
            assert http.get("/v1/recommendations").status_code == 403
        with running.client("nobody") as http:
            assert http.get("/v1/margins").status_code == 401
    finally:
        stop_thread_server(running)
