"""costledger.Client against a real server over loopback: durable outbox, batching, retries, dead letters."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costledger import Client, InvalidEvent, Ledger
from costledger.events import UsageEvent
from costledger.outbox import OutboxInUse
from server.harness import ThreadServer, free_port, start_thread_server, stop_thread_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    running = start_thread_server(str(tmp_path / "server.db"))
    try:
        yield running
    finally:
        stop_thread_server(running)


def stored(database: str) -> int:
    with Ledger(database) as ledger:
        return sum(t.events for t in ledger.report([]))


def test_record_queues_locally_and_the_sender_delivers_in_batches(server: ThreadServer, tmp_path: Path) -> None:
    with Client(server.url, server.keys.ingest, outbox=tmp_path / "out.db", interval=0.2) as client:
        for i in range(1200):
            queued = client.record("anthropic", "claude-sonnet-4-20250514", input_tokens=1000, event_id=f"e{i}")
            assert queued.queued == 1 and queued.event_ids == (f"e{i}",)
        assert client.flush(30)
        assert client.pending == 0
        assert client.stats.accepted == 1200 and client.stats.sent_batches >= 3  # at most 500 per batch
    assert stored(server.database) == 1200


def test_a_session_carries_its_fields_like_a_ledger_session(server: ThreadServer, tmp_path: Path) -> None:
    with Client(server.url, server.keys.ingest, outbox=tmp_path / "out.db") as client:
        with client.session("room-42", user_id="u_17", tier="creator") as s:
            s.record("deepgram", "nova-3", audio_seconds=300, agent="ears")
            s.record_many([{"service": "cartesia", "model": "sonic-3", "usage": {"characters": 4200}}])
        assert s.queued == 2
        assert client.flush(30)
    with Ledger(server.database) as ledger:
        summary = ledger.session_summary("room-42")
    assert summary is not None and summary.user_id == "u_17" and summary.events == 2
    # 300 s of Deepgram at $0.0043/min + 4,200 Cartesia credits at $49 / 1,250,000 (Startup plan).
    assert str(summary.cost_usd) == "0.186140000"


def test_an_invalid_event_fails_at_the_call_site_and_nothing_is_queued(tmp_path: Path) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", "k", outbox=tmp_path / "out.db") as client:
        with pytest.raises(InvalidEvent, match="unknown meter 'input_tokes'"):
            client.record("anthropic", "claude-sonnet-4-20250514", input_tokes=10)
        with pytest.raises(InvalidEvent) as refused:
            client.record_many([{"service": "x"}, {"service": "x", "usage": {"characters": -1}}])
        assert refused.value.errors[0][0] == 1
        assert client.pending == 0
        client.close(timeout=0)


def test_the_outbox_keeps_each_event_as_pydantic_writes_it(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = [
        {"event_id": "plain", "ts": "2025-03-01T12:00:00.5+02:00", "service": " Anthropic ", "model": "claude",
         "usage": {"input_tokens": 8000, "output_tokens": 350}, "session_id": "room-42", "agent": "scholar"},
        {"event_id": "rich", "ts": "2025-03-01T10:00:00Z", "service": "deepgram", "operation": "stt",
         "usage": {"audio_seconds": "12.50"}, "cost_usd": "0.0043", "recorded_cost_usd": 1, "tier": "créateur",
         "tags": {"team": 'é"\n'},
         "metadata": {"when": dt.datetime(2025, 1, 1), "n": None, "x": [1.5, "a", {"b": True}],
                      "amount": Decimal("1E+3")}},
    ]  # fmt: skip
    expected = [UsageEvent.model_validate(e).model_dump_json(exclude_none=True) for e in events]
    with Client(f"http://127.0.0.1:{free_port()}", "k", outbox=tmp_path / "out.db") as client:
        client.record(events[0])  # one event: the single-insert path
        client.record_many(events)  # a batch: one transaction
        assert [p.body for p in client.outbox.peek(10, 1 << 20)] == [expected[0], *expected]
        client.close(timeout=0)


def test_events_the_server_refuses_go_to_the_dead_letter_table(
    server: ThreadServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The client was told about a custom meter the server's config does not price.
    with Client(server.url, server.keys.ingest, outbox=tmp_path / "out.db", custom_meters=["pdf_pages"]) as client:
        client.record("mathpix", "pdf", pdf_pages=3, event_id="bad-1")
        client.record("deepgram", "nova-3", audio_seconds=60, event_id="good-1")
        assert client.flush(30)
        (failed,) = client.failed()
        assert failed.event_id == "bad-1" and failed.status == 422
        assert "unknown meter 'pdf_pages'" in failed.message and '"pdf_pages":3' in failed.event
        assert client.stats.failed == 1
    assert stored(server.database) == 1  # the good event of the same batch went through
    assert "refused event bad-1" in caplog.text


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_outbox_survives_the_process_and_replays_on_the_next_start(tmp_path: Path) -> None:
    port = free_port()
    outbox = tmp_path / "out.db"
    script = textwrap.dedent(f"""
        import costledger
        client = costledger.Client("http://127.0.0.1:{port}", "no-server-yet", outbox={str(outbox)!r})
        for i in range(300):
            client.record("deepgram", "nova-3", audio_seconds=1, event_id=f"r{{i}}")
        # No close(): atexit flushes for a while, finds no server, and leaves the events in the outbox.
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    running = start_thread_server(str(tmp_path / "server.db"))
    try:
        assert stored(running.database) == 0
        with Client(running.url, running.keys.ingest, outbox=outbox) as client:
            assert client.pending == 300
            assert client.flush(30)
        assert stored(running.database) == 300
    finally:
        stop_thread_server(running)


@pytest.mark.timeout(120)
def test_a_kill_9_right_after_record_returns_loses_nothing(tmp_path: Path) -> None:
    outbox = tmp_path / "out.db"
    # SIGKILL the moment the last record() returns: no atexit, no close(), the sender thread
    # alive and the WAL never checkpointed. What record() committed must be in the file.
    script = textwrap.dedent(f"""
        import os, signal
        import costledger
        client = costledger.Client("http://127.0.0.1:{free_port()}", "no-server", outbox={str(outbox)!r})
        for i in range(200):
            client.record("deepgram", "nova-3", audio_seconds=1, event_id=f"k{{i}}", session_id="killed")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert done.returncode == -9
    running = start_thread_server(str(tmp_path / "server.db"))
    try:
        with Client(running.url, running.keys.ingest, outbox=outbox) as client:
            assert client.pending == 200
            assert client.flush(30)
        with Ledger(running.database) as ledger:
            summary = ledger.session_summary("killed")
        assert summary is not None and summary.events == 200
    finally:
        stop_thread_server(running)


@pytest.mark.timeout(120)
def test_interpreter_exit_flushes_what_was_recorded(server: ThreadServer, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import costledger
        client = costledger.Client({server.url!r}, {server.keys.ingest!r}, outbox={str(tmp_path / "o.db")!r},
                                   interval=60)
        for i in range(25):
            client.record("deepgram", "nova-3", audio_seconds=1)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert stored(server.database) == 25


def test_while_the_server_is_down_flush_times_out_and_retries_back_off(tmp_path: Path) -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", "k", outbox=tmp_path / "out.db", interval=0.05)
    try:
        client.record("deepgram", "nova-3", audio_seconds=1)
        started = time.monotonic()
        assert client.flush(2.0) is False
        assert 1.9 < time.monotonic() - started < 4
        # 0.1 s doubling with jitter: a handful of attempts in two seconds, not a busy loop.
        assert 2 <= client.stats.retries <= 8
        assert "ConnectError" in (client.stats.last_error or "")
        assert client.pending == 1
    finally:
        client.close(timeout=0)


def test_an_outbox_belongs_to_one_client_at_a_time(tmp_path: Path) -> None:
    first = Client(f"http://127.0.0.1:{free_port()}", "k", outbox=tmp_path / "out.db")
    try:
        with pytest.raises(OutboxInUse):
            Client(f"http://127.0.0.1:{free_port()}", "k", outbox=tmp_path / "out.db")
    finally:
        first.close(timeout=0)


def test_a_refused_key_keeps_events_queued_until_a_good_key_sends_them(server: ThreadServer, tmp_path: Path) -> None:
    outbox = tmp_path / "out.db"
    client = Client(server.url, server.keys.revoked, outbox=outbox, interval=0.05, max_backoff=0.2)
    try:
        client.record_many([{"service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 1}}] * 3)
        assert client.flush(1.0) is False
        assert client.failed() == [] and client.pending == 3
        assert (client.stats.last_error or "").startswith("HTTP 401")
    finally:
        client.close(timeout=0)
    with Client(server.url, server.keys.ingest, outbox=outbox) as again:
        assert again.flush(30)
    assert stored(server.database) == 3
