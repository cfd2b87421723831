"""Connections: slow and half-open clients cannot starve `costledger serve`.

uvicorn closes an idle kept-alive connection, but waits for ever on one that opened and sends
nothing, or sends a request one byte every few seconds: 400 such sockets were never closed, and
1,100 of them left a server limited to 1,024 files answering none of 10 health probes. This
protocol (uvicorn's httptools one, with timers) gives each connection `header_timeout` seconds
from opening, or from its previous request, to send a request's headers (then 408 and closed),
and `body_timeout` seconds more for the body (then closed: the route sees the client gone). At
most `max_connections` are open per worker, and fewer when the process's file limit is lower: a
connection that would pass the cap closes the one that has waited longest for headers (an
attacker's socket, not the probe that needs a moment), or is closed itself with a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import load_config
from ..limits import Limits, from_environment

log = logging.getLogger("costledger.server")

# Files a worker needs besides its sockets: the database and its WAL, a pool of connections, logs,
# the metrics directory, the event loop's own.
_RESERVED_FILES = 128


@functools.cache
def limits() -> Limits:
    """The server's limits in this worker, as `costledger serve` passed them (config, then environment)."""
    return from_environment(load_config(os.environ.get("COSTLEDGER_CONFIG") or None).server)


@functools.cache
def connection_cap() -> int:
    """max_connections, kept below what the process's open-file limit leaves for sockets."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = limits().max_connections
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, max(16, soft - _RESERVED_FILES))
    return cap


def raise_file_limit() -> None:
    """Lift the soft open-file limit to the hard one (what the system allows this process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # A hard limit of infinity some systems refuse as a soft one: then the soft one stays.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n"
             b"content-length: 28\r\nconnection: close\r\n\r\ntoo many connections; retry")  # fmt: skip


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body timeouts and a cap on connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        # When this connection began waiting for a request's headers (None: a request is in hand).
        self.waiting_since: float | None = None

    # -- the life of a connection ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()
        if len(self.connections) > connection_cap():
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._timer is None:  # the first bytes of the next request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._stop_timer()
        self.waiting_since = None
        self._timer = self.loop.call_later(limits().body_timeout, self._too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.waiting_since is None and not self.transport.is_closing():
            self.waiting_since = self.loop.time()  # idle until the next request (uvicorn's keep-alive timer)

    # -- timers and the cap ---------------------------------------------------------------------

    def _await_headers(self) -> None:
        self._stop_timer()
        self.waiting_since = self.loop.time()
        self._timer = self.loop.call_later(limits().header_timeout, self._too_slow)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.waiting_since is not None:
            self.transport.write(_REQUEST_TIMEOUT)  # headers not sent in time: nothing of it reached a route
        self.transport.close()

    def _make_room(self) -> None:
        waiting = [c for c in self.connections
                   if isinstance(c, GuardedProtocol) and c is not self and c.waiting_since is not None]  # fmt: skip
        if waiting:
            oldest = min(waiting, key=lambda c: c.waiting_since or 0.0)
            oldest.transport.close()
            return
        log.warning("%s connections open, every one busy with a request: refusing another", len(self.connections))
        self.transport.write(_TOO_MANY)
        self.transport.close()


__all__ = ["GuardedProtocol", "connection_cap", "limits", "raise_file_limit"]
