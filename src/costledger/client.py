"""Client: the Ledger's recording API, for agents that send usage to a costledger server.

`record()` validates the event here (a typo fails at the call site), writes it to a
durable local outbox and returns without touching the network. A background thread
(sender.py) sends the outbox in batches and retries until the server has acknowledged
every event: each event keeps its event_id across retries and restarts, and the server
counts an event_id once, so retrying is always safe.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .events import parse_events
from .ledger import EventLike, build_event
from .outbox import Failed, Outbox
from .sender import BATCH_EVENTS, ClientStats, Sender


def default_outbox() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("costledger", appauthor=False)) / "outbox.db"


@dataclass(frozen=True)
class Queued:
    """What a Client record call did: events validated and safely in the outbox."""

    queued: int
    event_ids: tuple[str, ...]


class Client:
    """`Client(url, key, outbox=path)`: record locally now, deliver to the server soon, never lose an event."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        outbox: str | Path | None = None,
        batch_size: int = BATCH_EVENTS,
        interval: float = 1.0,
        timeout: float = 30.0,
        max_backoff: float = 30.0,
        custom_meters: Iterable[str] = (),
        fsync: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be between 1 and 1000 (the server's limit)")
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.custom_meters = frozenset(custom_meters)
        self.stats = ClientStats()
        self.outbox = Outbox(outbox or default_outbox(), fsync=fsync)
        http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._closed = False
        self._sender = Sender(
            self.outbox, http, self.stats, batch_size=batch_size, interval=interval, max_backoff=max_backoff
        )
        atexit.register(self.close)

    # -- recording (the caller's thread) --------------------------------------------------------

    def record(self, event: EventLike | str, model: str | None = None, /, **fields: Any) -> Queued:
        """Validate one event and queue it durably; the network is not touched."""
        return self.record_many([build_event(event, model, fields, {})])

    def record_many(self, events: Iterable[EventLike]) -> Queued:
        """Validate the whole batch (InvalidEvent: nothing is queued), then queue it in one transaction."""
        if self._closed:
            raise RuntimeError("this Client is closed")
        parsed = parse_events(events, custom_meters=self.custom_meters)
        if not parsed:
            return Queued(0, ())
        before = self.outbox.pending
        # The JSON is model_dump_json(exclude_none=True)'s, from the serializer it calls: without
        # the dozen keyword arguments that wrapper passes on, a few percent of record().
        if len(parsed) == 1:  # record(): one autocommit insert, no BEGIN/COMMIT round trip
            event = parsed[0]
            self.outbox.add_one(
                event.event_id, event.__pydantic_serializer__.to_json(event, exclude_none=True).decode()
            )
            event_ids: tuple[str, ...] = (event.event_id,)
        else:
            self.outbox.add(
                [(e.event_id, e.__pydantic_serializer__.to_json(e, exclude_none=True).decode()) for e in parsed]
            )
            event_ids = tuple(e.event_id for e in parsed)
        # Only the call that fills a batch wakes the sender: a notify per call would cost
        # the caller a lock and the sender a wake-up for nothing.
        if before < self.batch_size <= self.outbox.pending:
            self._sender.batch_waiting()
        return Queued(len(event_ids), event_ids)

    def session(self, session_id: str, **fields: Any) -> ClientSession:
        """Like Ledger.session: record() calls inside carry the session's id and fields."""
        return ClientSession(self, session_id, fields)

    # -- delivery -------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events in the outbox the server has not acknowledged yet."""
        return self.outbox.pending

    def failed(self) -> list[Failed]:
        """Events the server refused as invalid, with its message; they are never resent."""
        return self.outbox.failed()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything now; True once the outbox is empty, False if `timeout` passed first."""
        return self._sender.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Flush for up to `timeout` seconds, then stop; what is left is sent on the next start."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._sender.flush(timeout)
        # A request in flight finishes (or times out) before the outbox closes under it.
        self._sender.stop()
        self.outbox.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ClientSession:
    """One conversation, call or deliberation recorded through a Client."""

    def __init__(self, client: Client, session_id: str, fields: Mapping[str, Any]) -> None:
        self.client = client
        self.session_id = session_id
        self.fields = {**fields, "session_id": session_id}
        self.queued = 0

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def record(self, event: EventLike | str, model: str | None = None, /, **fields: Any) -> Queued:
        return self.record_many([build_event(event, model, fields, {})])

    def record_many(self, events: Iterable[EventLike]) -> Queued:
        queued = self.client.record_many([build_event(e, None, {}, self.fields) for e in events])
        self.queued += queued.queued
        return queued


__all__ = ["Client", "ClientSession", "ClientStats", "Queued"]
