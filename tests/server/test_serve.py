"""`costledger serve --workers 2`: several processes share one database and one set of metrics."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from .harness import make_keys


def _batches(n: int, size: int) -> list[dict[str, Any]]:
    return [
        {"events": [{"event_id": f"w{b}-{i}", "service": "deepgram", "model": "nova-3",
                     "usage": {"audio_seconds": 60}, "user_id": f"u{i % 7}"} for i in range(size)]}
        for b in range(n)
    ]  # fmt: skip


def _post_concurrently(url: str, key: str, bodies: list[dict[str, Any]], senders: int = 8) -> list[int]:
    statuses: list[int] = []

    def send(part: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            statuses.extend(http.post("/v1/events", json=body).status_code for body in part)

    threads = [threading.Thread(target=send, args=(bodies[i::senders],)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_workers_on_postgresql_count_every_event_once_and_metrics_add_up(pg_url: str, serve_process: Any) -> None:
    keys = make_keys(pg_url)
    server = serve_process(pg_url, workers=2, COSTLEDGER_ALERT_DELIVERY="off")
    bodies = _batches(40, 100)
    statuses = _post_concurrently(server.url, keys.ingest, bodies + bodies[:10])  # 10 batches sent twice
    assert statuses == [200] * 50
    admin = {"Authorization": f"Bearer {keys.admin}"}
    costs = httpx.get(f"{server.url}/v1/costs", params={"group_by": "user"}, headers=admin).json()
    assert costs["events"] == 4000 and costs["cost_usd"] == "17.2"  # 4,000 minutes at $0.0043
    # Each scrape lands on one worker; in multiprocess mode each sees every worker's counts.
    for _ in range(4):
        text = httpx.get(f"{server.url}/metrics", headers=admin).text
        assert _metric(text, 'costledger_events_accepted_total{service="deepgram"}') == 4000
        assert _metric(text, "costledger_events_duplicate_total") == 1000
        assert abs(_metric(text, 'costledger_cost_usd_total{service="deepgram"}') - 17.2) < 1e-6
        assert _metric(text, 'costledger_http_request_duration_seconds_count{method="POST",route="/v1/events"') == 50


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_workers_share_one_sqlite_file(tmp_path: Path, serve_process: Any) -> None:
    database = str(tmp_path / "shared.db")
    keys = make_keys(database)
    server = serve_process(database, workers=2, COSTLEDGER_ALERT_DELIVERY="off")
    statuses = _post_concurrently(server.url, keys.ingest, _batches(20, 50), senders=6)
    assert statuses == [200] * 20
    admin = {"Authorization": f"Bearer {keys.admin}"}
    assert httpx.get(f"{server.url}/v1/costs", headers=admin).json()["events"] == 1000


@pytest.mark.timeout(120)
def test_one_worker_counts_in_memory_and_serves_its_metrics(tmp_path: Path, serve_process: Any) -> None:
    database = str(tmp_path / "one.db")
    keys = make_keys(database)
    server = serve_process(database, workers=1, COSTLEDGER_ALERT_DELIVERY="off")
    assert _post_concurrently(server.url, keys.ingest, _batches(3, 10), senders=1) == [200] * 3
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {keys.admin}"}).text
    assert _metric(text, 'costledger_events_accepted_total{service="deepgram"}') == 30


@pytest.mark.timeout(120)
def test_costledger_now_pins_the_server_and_its_workers(tmp_path: Path, serve_process: Any) -> None:
    database = str(tmp_path / "pinned.db")
    keys = make_keys(database)
    server = serve_process(database, workers=2, COSTLEDGER_NOW="2027-01-01T00:00:30Z", COSTLEDGER_ALERT_DELIVERY="off")
    admin = {"Authorization": f"Bearer {keys.admin}"}
    body = {
        "events": [{"event_id": "pinned", "service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 60}}]
    }
    assert httpx.post(
        f"{server.url}/v1/events", json=body, headers={"Authorization": f"Bearer {keys.ingest}"}
    ).is_success
    for _ in range(4):  # each request lands on one worker or the other: both read the pinned clock
        daily = httpx.get(f"{server.url}/v1/costs/daily", params={"days": 2}, headers=admin).json()
        assert [row["day"] for row in daily["rows"]] == ["2026-12-31", "2027-01-01"]
        assert daily["rows"][1]["events"] == 1  # the event without ts was stamped at the pinned instant
