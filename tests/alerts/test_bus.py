"""The event bus: every priced event and alert on NATS JetStream, at least once, never duplicated."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from conftest import require
from costledger import Ledger
from costledger.bus import STREAM
from costledger.store.alerts_schema import bus_outbox

from .conftest import cost_event, ledger_with

URL = "nats://127.0.0.1:4222"


def _nats() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return
    except OSError:
        require(False, "NATS with JetStream at 127.0.0.1:4222")


async def _stored(subject: str, expect: int, wait: float = 3.0) -> list[Any]:
    """Every message the stream holds on `subject` (an ordered consumer from the start)."""
    import nats

    connection = await nats.connect(URL)
    js = connection.jetstream()
    subscription = await js.subscribe(subject, ordered_consumer=True, stream=STREAM)
    out = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            out.append(await subscription.next_msg(timeout=0.3))
        except Exception:
            if len(out) >= expect:
                break
    await connection.close()
    return out


def test_the_bus_is_off_by_default(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record(cost_event("1"))
        with ledger.store.engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(bus_outbox)).scalar() == 0
        assert ledger.alerts.publish_pending() == 0


@pytest.mark.timeout(60)
def test_events_and_alerts_reach_jetstream_once_even_when_published_twice(db_path: Path) -> None:
    _nats()
    service = f"svc{uuid.uuid4().hex[:10]}"
    toml = f'[channels.bus]\nurl = "{URL}"\n[[alerts]]\nkind = "daily_total"\nper = "service"\nonly = "{service}"\n' \
           'threshold_usd = "1"\n'  # fmt: skip
    ids = [f"{service}-{n}" for n in range(3)]
    with ledger_with(db_path, toml) as ledger:
        ledger.record_many([cost_event("0.5", service=service, event_id=i, user_id="u1") for i in ids])
        assert ledger.alerts.publish_pending() == 4  # three events and the alert they fired
        assert ledger.alerts.publish_pending() == 0
        # A crash after publishing but before marking: everything goes out again, with the same ids.
        with ledger.store.engine.begin() as connection:
            connection.execute(update(bus_outbox).values(published_at=None))
        assert ledger.alerts.publish_pending() == 4
        alert = ledger.alerts.history(kind="daily_total")[0]
    events = asyncio.run(_stored(f"costledger.usage.{service}", 3))
    assert sorted(m.headers["Nats-Msg-Id"] for m in events) == ids
    first = json.loads(events[0].data)
    assert first["event_id"] == ids[0] and first["cost_usd"] == "0.5" and first["user_id"] == "u1"
    last = asyncio.run(_last_alert())
    assert last.headers is not None and last.headers["Nats-Msg-Id"] == alert.message_id
    assert json.loads(last.data)["alert"]["details"]["service"] == service


async def _last_alert() -> Any:
    import nats

    connection = await nats.connect(URL)
    try:
        return await connection.jetstream().get_last_msg(STREAM, "costledger.alert")
    finally:
        await connection.close()


@pytest.mark.timeout(60)
def test_costledger_tail_prints_the_live_stream(db_path: Path, tmp_path: Path) -> None:
    _nats()
    service = f"tail{uuid.uuid4().hex[:8]}"
    command = [str(Path(sys.executable).with_name("costledger")), "tail", "--url", URL, "--limit", "1",
               "--subject", f"costledger.usage.{service}"]  # fmt: skip
    tail = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "COSTLEDGER_CONFIG": ""})  # fmt: skip
    try:
        assert tail.stderr is not None
        assert "listening on" in tail.stderr.readline().decode()  # subscribed: what is published now reaches it
        with ledger_with(db_path, f'[channels.bus]\nurl = "{URL}"\n') as ledger:
            ledger.record(cost_event("0.25", service=service, event_id=f"{service}-1"))
            ledger.alerts.publish_pending()
        out, err = tail.communicate(timeout=20)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 0, err
    subject, _, payload = out.decode().strip().partition(" ")
    assert subject == f"costledger.usage.{service}"
    assert json.loads(payload)["cost_usd"] == "0.25"
