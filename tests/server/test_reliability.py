"""Nothing lost, nothing counted twice: a real `costledger serve` process killed, stopped, raced.

The client's events keep their event_ids across retries, and the server counts an
event_id once, so every failure mode below ends with each event counted exactly once.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costledger import Client, Ledger

from .harness import make_keys

PER_EVENT = Decimal("0.000071667")  # deepgram nova-3, one second: $0.0043/min rounded to a nano-dollar


def _events(prefix: str, start: int, stop: int) -> list[dict[str, Any]]:
    return [{"event_id": f"{prefix}{i}", "service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 1},
             "session_id": f"s{i // 100}"} for i in range(start, stop)]  # fmt: skip


def _counted(database: str) -> tuple[int, int, Decimal]:
    """(event rows, events in the rollups, cost in the rollups)."""
    from sqlalchemy import func, select

    from costledger.store.schema import events

    with Ledger(database) as ledger:
        totals = ledger.report([])
        with ledger.store.engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(events)).scalar_one()
    counted = sum(t.events for t in totals)
    return int(rows), counted, sum((t.cost_usd for t in totals), start=Decimal(0))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_while_a_client_sends_100k_events_loses_and_doubles_nothing(tmp_path: Path, serve_process: Any) -> None:
    database = str(tmp_path / "server.db")
    keys = make_keys(database)
    server = serve_process(database)
    total = 100_000
    client = Client(server.url, keys.ingest, outbox=tmp_path / "outbox.db", interval=0.1, max_backoff=1.0)
    try:

        def produce() -> None:
            for start in range(0, total, 500):
                client.record_many(_events("k", start, start + 500))

        producer = threading.Thread(target=produce)
        producer.start()
        deadline = time.monotonic() + 300
        while _counted(database)[0] < 5_000:  # the server is busy ingesting: now kill it mid-stream
            assert time.monotonic() < deadline, "the server never started counting"
            time.sleep(0.2)
        server.kill()
        killed_at = _counted(database)[0]
        time.sleep(1.5)
        server.start()
        producer.join()
        assert client.flush(600), f"{client.pending} events still in the outbox; last error {client.stats.last_error}"
    finally:
        client.close(timeout=0)
    assert client.stats.failed == 0
    rows, counted, cost = _counted(database)
    assert killed_at < total
    assert (rows, counted) == (total, total)
    assert cost == total * PER_EVENT


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_server_stopped_for_a_while_gets_every_event_when_it_returns(
    pg_url: str, tmp_path: Path, serve_process: Any
) -> None:
    keys = make_keys(pg_url)
    server = serve_process(pg_url, workers=2, COSTLEDGER_ALERT_DELIVERY="off")
    with Client(server.url, keys.ingest, outbox=tmp_path / "outbox.db", interval=0.1, max_backoff=0.5) as client:
        client.record_many(_events("p", 0, 1000))
        assert client.flush(60)
        server.stop()
        for start in range(1000, 3000, 250):  # recorded while nothing answers
            client.record_many(_events("p", start, start + 250))
        assert client.flush(3) is False
        assert client.pending == 2000 and client.stats.retries >= 2
        server.start()
        assert client.flush(120)
    assert _counted(pg_url)[:2] == (3000, 3000)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ten_clients_sending_the_same_batches_at_once_store_each_event_once(
    pg_url: str, tmp_path: Path, serve_process: Any
) -> None:
    keys = make_keys(pg_url)
    server = serve_process(pg_url, workers=2, COSTLEDGER_ALERT_DELIVERY="off")
    batch = _events("same", 0, 2000)
    clients = [
        Client(server.url, keys.ingest, outbox=tmp_path / f"outbox-{n}.db", interval=0.05, batch_size=250)
        for n in range(10)
    ]
    try:
        barrier = threading.Barrier(len(clients))

        def send(client: Client) -> None:
            barrier.wait()
            client.record_many(batch)

        threads = [threading.Thread(target=send, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(c.flush(120) for c in clients)
    finally:
        for c in clients:
            c.close(timeout=0)
    assert sum(c.stats.accepted for c in clients) == 2000
    assert sum(c.stats.duplicates for c in clients) == 18_000
    rows, counted, cost = _counted(pg_url)
    assert (rows, counted) == (2000, 2000) and cost == 2000 * PER_EVENT
