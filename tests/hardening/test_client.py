"""Finding 2, one poisoned event blocked the SDK for ever: the Client retried every 5xx for ever and
always resent the oldest batch, so after 30 s none of 100 good events behind one bad one had arrived.

Now a 5xx that repeats on a batch splits it: what the server takes is delivered, and an event that fails
alone (while the server takes others) moves to the dead-letter table with the server's reason. A server
that fails every request is an outage: nothing is dead-lettered, everything is delivered once it mends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from costledger import Client, Ledger
from costledger.server.app import create_app
from server.harness import Keys, free_port, make_keys, wait_healthy


@dataclass
class Running:
    url: str
    keys: Keys
    app: Any
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """The real app over loopback, whose writes a test can make fail (a bug in a write hook: a real 500)."""
    database = str(tmp_path / "server.db")
    keys = make_keys(database)
    app = create_app(database)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    try:
        yield Running(url, keys, app, server, thread)
    finally:
        server.should_exit = True
        thread.join(15)


def _fail_on(app: Any, poisoned: set[str] | None) -> Any:
    """A write hook that raises for batches holding one of `poisoned` (None: every batch)."""

    def hook(_connection: object, written: Any) -> None:
        if poisoned is None or any(row["event_id"] in poisoned for row in written.inserted):
            raise RuntimeError("a bug this event trips")

    app.state.ledger.store.on_write.append(hook)
    return hook


def _stored(app: Any) -> int:
    ledger: Ledger = app.state.ledger
    return sum(t.events for t in ledger.report([]))


def test_an_outage_loses_nothing_and_a_poisoned_event_no_longer_blocks_the_hundred_behind_it(
    running: Running, tmp_path: Path
) -> None:
    # A server that fails every request is an outage: retried and split, nothing dead-lettered.
    everything = _fail_on(running.app, None)
    client = Client(running.url, running.keys.ingest, outbox=tmp_path / "outbox.db", max_backoff=0.5)
    try:
        for i in range(20):
            client.record("deepgram", "nova-3", audio_seconds=60, event_id=f"e-{i}")
        assert not client.flush(timeout=6)
        assert client.failed() == [] and client.pending == 20
        assert client.stats.retries >= 2
        running.app.state.ledger.store.on_write.remove(everything)  # mended: all 20 go in
        assert client.flush(timeout=30)
        assert client.failed() == []
        assert _stored(running.app) == 20
        # One event the server cannot take, oldest in the outbox, and 100 good ones behind it.
        _fail_on(running.app, {"poison"})
        client.record("anthropic", "claude-sonnet-4-20250514", input_tokens=10, event_id="poison")
        for i in range(100):
            client.record("anthropic", "claude-sonnet-4-20250514", input_tokens=10, event_id=f"good-{i}")
        start = time.monotonic()
        assert client.flush(timeout=30), f"still pending after 30 s: {client.pending}"
        took = time.monotonic() - start
        assert _stored(running.app) == 120
        (failed,) = client.failed()
        assert (failed.event_id, failed.status) == ("poison", 500)
        assert "internal error" in failed.message and "failed alone" in failed.message
        assert took < 20
    finally:
        client.close()
