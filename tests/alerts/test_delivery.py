"""Delivery: from the persisted queue, to real receivers on loopback, with retries recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import require
from costledger import clock
from costledger.alerts.channels import SIGNATURE_HEADER, sign, slack_text
from costledger.alerts.queue import attempts
from costledger.alerts.worker import Deliveries

from .conftest import Receiver, body, cost_event, ledger_with


def _fast(ledger: Any, **options: Any) -> Deliveries:
    """The ledger's deliveries with test-sized backoff (production waits seconds to an hour)."""
    return Deliveries(ledger.store, ledger.alerts.channels, backoff=0.01, max_backoff=0.05, **options)


def _drain(deliveries: Deliveries, until: Any, timeout: float = 10.0) -> None:
    """Run the worker until `until()`; the suite's clock is pinned, so each round moves it past the backoff."""
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        deliveries.run_once()
        clock.set_clock(clock.now() + dt.timedelta(seconds=deliveries.max_backoff))
        time.sleep(0.02)


@pytest.mark.timeout(30)
def test_webhook_gets_a_signed_json_body_and_is_retried_until_it_answers(db_path: Path, receiver: Receiver) -> None:
    toml = f"""
[[alerts]]
kind = "session_total"
threshold_usd = "1"
channels = ["ops"]
[channels.ops]
type = "webhook"
url = "{receiver.url}"
secret = "s3cret"
timeout_seconds = 5
"""
    receiver.statuses = [500, 503]
    with ledger_with(db_path, toml) as ledger:
        ledger.session("room-9", user_id="u1").record(cost_event("1.25"))
        assert receiver.requests == []  # ingest sent nothing: the alert waits in the queue
        deliveries = _fast(ledger)
        _drain(deliveries, lambda: any(r["status"] == 200 for r in receiver.requests))
        alert = ledger.alerts.history(kind="session_total")[0]
        with ledger.store.engine.connect() as connection:
            tried = attempts(connection, alert.deliveries[0].id)
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]
    last = receiver.requests[-1]
    expected = "sha256=" + hmac.new(b"s3cret", last["body"], hashlib.sha256).hexdigest()
    assert last["headers"][SIGNATURE_HEADER] == expected == sign("s3cret", last["body"])
    payload = body(last)["alert"]
    assert payload["subject"] == "session=room-9" and payload["value_usd"] == "1.25" and payload["threshold_usd"] == "1"
    assert (alert.deliveries[0].status, alert.deliveries[0].attempts) == ("sent", 3)
    assert [a["ok"] for a in tried] == [False, False, True]
    assert "webhook answered 500" in (tried[0]["error"] or "")


@pytest.mark.timeout(30)
def test_a_receiver_that_never_answers_times_out_and_ends_failed_but_kept(db_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    toml = f"""
[[alerts]]
kind = "daily_total"
threshold_usd = "1"
channels = ["ops", "log"]
[channels.ops]
type = "webhook"
url = "http://127.0.0.1:{silent.getsockname()[1]}/"
timeout_seconds = 0.2
"""
    try:
        with ledger_with(db_path, toml) as ledger:
            started = time.monotonic()
            ledger.record(cost_event("2"))
            assert time.monotonic() - started < 5  # ingest does not wait on the channel
            deliveries = _fast(ledger, max_attempts=2)

            def settled() -> bool:
                return all(d.status != "pending" for d in ledger.alerts.history(kind="daily_total")[0].deliveries)

            _drain(deliveries, settled)
            alert = ledger.alerts.history(kind="daily_total")[0]
    finally:
        silent.close()
    by_channel = {d.channel: d for d in alert.deliveries}
    assert by_channel["log"].status == "sent"
    assert (by_channel["ops"].status, by_channel["ops"].attempts) == ("failed", 2)
    assert "Timeout" in (by_channel["ops"].last_error or "")


@pytest.mark.timeout(30)
def test_slack_message_is_readable_with_figures_and_a_dashboard_link(db_path: Path, receiver: Receiver) -> None:
    toml = f"""
[[alerts]]
kind = "daily_total"
per = "user"
threshold_usd = "100"
channels = ["slack"]
[channels.slack]
webhook_url = "{receiver.url}"
dashboard_url = "https://costs.example.com"
"""
    with ledger_with(db_path, toml) as ledger:
        ledger.record(cost_event("1234.5", user_id="u_17"))
        _drain(_fast(ledger), lambda: bool(receiver.requests))
    text = body(receiver.requests[0])["text"]
    assert "user u_17: Daily cost for 2026-11-20 is $1,234.50, over the $100.00 alert threshold." in text
    assert "value $1,234.50 · threshold $100.00" in text
    assert "<https://costs.example.com/|Open the dashboard>" in text
    assert slack_text  # the same function formats it for anyone else


@pytest.mark.timeout(30)
def test_email_goes_through_smtp_with_login(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw")
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        toml = f"""
[[alerts]]
kind = "session_total"
threshold_usd = "5"
channels = ["email"]
[channels.email]
host = "127.0.0.1"
port = {port}
username = "alerts"
password_env = "TEST_SMTP_PASSWORD"
from = "costledger@example.com"
to = ["ops@example.com"]
"""
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
        with ledger_with(db_path, toml) as ledger:
            ledger.session("room-5").record(cost_event("7"))
            _drain(_fast(ledger), lambda: bool(received))
            status = ledger.alerts.history()[0].deliveries[0].status
    finally:
        controller.stop()
    assert status == "sent"
    message = received[0]
    assert message.rcpt_tos == ["ops@example.com"]
    parsed = email.message_from_bytes(message.content, policy=email.policy.default)
    assert parsed["Subject"].strip() == "[costledger] Session room-5 has cost $7.00, over the $5.00 alert threshold."
    assert '"value_usd": "7"' in parsed.get_content()


def _nats_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.timeout(30)
def test_nats_channel_publishes_the_alert(db_path: Path) -> None:
    require(_nats_up(), "NATS at 127.0.0.1:4222")
    import uuid

    import nats

    subject = f"test.alerts.{uuid.uuid4().hex}"
    toml = f"""
[[alerts]]
kind = "session_total"
threshold_usd = "1"
channels = ["nats"]
[channels.nats]
url = "nats://127.0.0.1:4222"
subject = "{subject}"
"""
    got: list[Any] = []

    async def scenario() -> None:
        connection = await nats.connect("nats://127.0.0.1:4222")
        subscription = await connection.subscribe(subject)
        await connection.flush()
        with ledger_with(db_path, toml) as ledger:
            ledger.session("room-n").record(cost_event("3"))
            await asyncio.to_thread(
                _drain, _fast(ledger), lambda: bool(ledger.alerts.history()[0].deliveries[0].sent_at)
            )
        message = await subscription.next_msg(timeout=5)
        got.append(json.loads(message.data))
        await connection.close()

    asyncio.run(scenario())
    assert got[0]["alert"]["subject"] == "session=room-n" and got[0]["alert"]["value_usd"] == "3"


@pytest.mark.timeout(30)
def test_the_background_worker_delivers_without_being_asked(db_path: Path, receiver: Receiver) -> None:
    toml = f'[[alerts]]\nkind = "daily_total"\nthreshold_usd = "1"\nchannels = ["hook"]\n[channels.hook]\n' \
           f'type = "webhook"\nurl = "{receiver.url}"\n'  # fmt: skip
    with ledger_with(db_path, toml) as ledger:
        ledger.alerts.start(interval=0.05)
        try:
            ledger.record(cost_event("1.5"))
            assert receiver.got.wait(10)
        finally:
            ledger.alerts.stop()
    assert body(receiver.requests[0])["alert"]["kind"] == "daily_total"
