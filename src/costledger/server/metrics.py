"""Prometheus metrics. With several uvicorn workers each is a process of its own, so
`costledger serve` sets PROMETHEUS_MULTIPROC_DIR before any worker starts and /metrics
adds up every worker's files; without it (one process, tests) the default registry is used.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from ..limits import Limits
from ..store import Written

if TYPE_CHECKING:
    from ..ledger import Ledger, Recorded

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

EVENTS_ACCEPTED = Counter("costledger_events_accepted", "Usage events stored (new event_ids)", ["service"])
EVENTS_DUPLICATE = Counter("costledger_events_duplicate", "Usage events received again and not counted twice")
EVENTS_UNPRICED = Counter("costledger_events_unpriced", "Stored usage events no price is known for", ["service"])
COST_USD = Counter("costledger_cost_usd", "Cost of the stored usage events, in USD", ["service"])
BATCHES_REFUSED = Counter("costledger_batches_refused", "Event batches refused whole", ["reason"])
REQUEST_SECONDS = Histogram(
    "costledger_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class BoundedLabel:
    """A label's values in this process: the first `limit` distinct ones, then "other" (a client names
    services; a million names must not become a million series)."""

    OTHER = "other"

    def __init__(self, limit: int = 50) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return self.OTHER


SERVICE_LABEL = BoundedLabel()
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def configure(limits: Limits) -> None:
    """Apply the server's limits to this process's labels."""
    SERVICE_LABEL.limit = limits.metric_label_values


# The store calls its write hooks inside the transaction, which it may retry whole;
# the last call in a thread is what that thread's committed batch inserted.
_last_written = threading.local()


def remember_written(_connection: object, written: Written) -> None:
    _last_written.value = written


def record_counted(ledger: Ledger, events: Sequence[Any]) -> Recorded:
    """`ledger.record_many(events)`, counted into the metrics once it has committed."""
    _take_written()
    recorded = ledger.record_many(events)
    written = _take_written()
    if written is not None:
        _count_written(written)
    return recorded


def _take_written() -> Written | None:
    written: Written | None = getattr(_last_written, "value", None)
    _last_written.value = None
    return written


def _count_written(written: Written) -> None:
    """Count a committed batch (call it only after the commit), per service from its rollup buckets."""
    per_service: dict[str, list[int]] = {}
    for key, (accepted, unpriced, nanos) in written.buckets.items():
        bucket = per_service.setdefault(SERVICE_LABEL(key[1]), [0, 0, 0])  # key: (day, service, …)
        bucket[0] += accepted
        bucket[1] += unpriced
        bucket[2] += nanos
    for service, (accepted, unpriced, nanos) in per_service.items():
        EVENTS_ACCEPTED.labels(service).inc(accepted)
        if unpriced:
            EVENTS_UNPRICED.labels(service).inc(unpriced)
        # A float here is for graphs only; money itself never leaves Decimal.
        COST_USD.labels(service).inc(nanos / 1e9)
    if written.duplicates:
        EVENTS_DUPLICATE.inc(written.duplicates)


def _multiprocess() -> bool:
    # The storage is chosen when prometheus_client is imported: trust what it chose, not the
    # environment now (a process that imported it before the variable was set keeps counting in memory).
    from prometheus_client import values

    return bool(os.environ.get(MULTIPROC_ENV)) and values.ValueClass is not values.MutexValue


def exposition() -> tuple[bytes, str]:
    if _multiprocess():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class LatencyMiddleware:
    """Times every HTTP request by its route template (never the raw path: ids would explode the labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # any token is a method
            REQUEST_SECONDS.labels(method, template, str(status)).observe(time.perf_counter() - start)
