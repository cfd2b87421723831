"""The event bus (optional, off by default): every priced event to `costledger.usage.<service>`
and every alert to `costledger.alert`, on NATS JetStream.

At least once, without duplicates for consumers: the message is written to an outbox
table in the transaction that stores the event, and published after commit with the
event's `event_id` as its Nats-Msg-Id, so JetStream drops a re-publish (after a crash
between publishing and marking it published) inside its duplicate window.

Turn it on with `[channels.bus] url = "nats://…"` in costledger.toml or $COSTLEDGER_BUS_URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from . import clock
from .config import Config
from .money import from_nanos, usd
from .store.alerts_schema import bus_outbox

if TYPE_CHECKING:
    from .store import Store

ENV_URL = "COSTLEDGER_BUS_URL"
STREAM = "COSTLEDGER"
SUBJECTS = ["costledger.usage.>", "costledger.alert"]
ALERT_SUBJECT = "costledger.alert"

Message = tuple[str, str, bytes]  # subject, message id, body


def bus_url(config: Config) -> str | None:
    """The NATS URL when the bus is on, else None."""
    table = config.channels.get("bus", {})
    if table and table.get("enabled", True) is not False:
        return str(table.get("url", "nats://127.0.0.1:4222"))
    return os.environ.get(ENV_URL) or None


def usage_subject(service: str) -> str:
    # NATS subject tokens cannot hold dots, spaces or wildcards.
    token = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in service) or "_"
    return f"costledger.usage.{token}"


def event_message(row: Mapping[str, Any]) -> dict[str, Any]:
    """The published form of a stored event: the usage event as given, plus its cost."""
    return {
        "event_id": row["event_id"],
        "ts": row["ts"].replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z"),
        "service": row["service"],
        "model": row["model"],
        "operation": row["operation"],
        "usage": json.loads(row["usage"]),
        "cost_usd": usd(from_nanos(row["cost"])) if row["cost"] is not None else None,
        "cost_source": row["cost_source"],
        "price_ref": row["price_ref"],
        **{k: row[k] for k in ("session_id", "user_id", "tier", "agent", "mode", "endpoint")},
        "tags": json.loads(row["tags"]),
    }


def enqueue_events(connection: Connection, rows: Sequence[Mapping[str, Any]], now: dt.datetime) -> None:
    if rows:
        connection.execute(
            bus_outbox.insert(),
            [
                {"subject": usage_subject(r["service"]), "msg_id": r["event_id"],
                 "payload": json.dumps(event_message(r), sort_keys=True), "created_at": now}
                for r in rows
            ],
        )  # fmt: skip


def enqueue_alert(connection: Connection, message_id: str, payload: Mapping[str, Any], now: dt.datetime) -> None:
    connection.execute(
        bus_outbox.insert().values(
            subject=ALERT_SUBJECT, msg_id=message_id, payload=json.dumps(payload, sort_keys=True),
            created_at=now,
        )
    )  # fmt: skip


async def _ensure_stream(js: Any) -> None:
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(name=STREAM, subjects=SUBJECTS)


async def publish(url: str, messages: Sequence[Message], timeout: float = 10.0) -> None:
    """Publish to JetStream, each message with its id; raises if any is not acknowledged."""
    import nats

    connection = await nats.connect(url, connect_timeout=timeout, max_reconnect_attempts=0, allow_reconnect=False)
    try:
        js = connection.jetstream(timeout=timeout)
        await _ensure_stream(js)
        for subject, msg_id, body in messages:
            await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id}, timeout=timeout)
    finally:
        await connection.close()


def publish_sync(url: str, messages: Sequence[Message], timeout: float = 10.0) -> None:
    asyncio.run(publish(url, messages, timeout))


def publish_pending(store: Store, url: str, batch: int = 500, timeout: float = 10.0) -> int:
    """Publish what the outbox holds, oldest first; returns how many were published.

    A message is marked published only after JetStream acknowledged it; a crash in
    between re-publishes it with the same id, which JetStream discards.
    """
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(bus_outbox.c.id, bus_outbox.c.subject, bus_outbox.c.msg_id, bus_outbox.c.payload)
            .where(bus_outbox.c.published_at.is_(None))
            .order_by(bus_outbox.c.id)
            .limit(batch)
        ).all()
    if not rows:
        return 0
    publish_sync(url, [(r.subject, r.msg_id, r.payload.encode()) for r in rows], timeout)
    now = clock.utcnow()
    ids = [r.id for r in rows]
    store.transaction(lambda c: c.execute(update(bus_outbox).where(bus_outbox.c.id.in_(ids)).values(published_at=now)))
    return len(rows)


async def tail(url: str, subject: str = "costledger.>", *, limit: int | None = None, out: Any = None) -> int:
    """Print the live stream, one JSON line per message (subject first); returns how many were printed."""
    import sys

    import nats

    out = out or sys.stdout
    connection = await nats.connect(url, connect_timeout=5)
    seen = 0
    done = asyncio.Event()
    try:

        async def on_message(message: Any) -> None:
            nonlocal seen
            if limit is not None and seen >= limit:
                return
            seen += 1
            print(f"{message.subject} {message.data.decode()}", file=out, flush=True)
            if limit is not None and seen >= limit:
                done.set()

        await connection.subscribe(subject, cb=on_message)
        await connection.flush()
        print(f"listening on {subject} at {url}", file=sys.stderr, flush=True)
        await done.wait()
    finally:
        await connection.close()
    return seen
