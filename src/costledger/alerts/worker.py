"""Delivering queued alerts (and publishing the bus outbox) from a background thread.

Sending happens outside any transaction: a delivery is claimed for a lease (so a
second worker, in this process or another, leaves it alone), sent with the
channel's timeout, and its attempt recorded. A failure is retried with exponential
backoff; after `max_attempts` it stays stored as `failed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .channels import Channel
from .queue import Delivery, claim, due, load_alert, record_attempt, utcnow

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("costledger.alerts")


class Deliveries:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        backoff: float = 5.0,
        max_backoff: float = 3600.0,
        max_attempts: int = 12,
        lease: float = 120.0,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.lease = lease

    def run_once(self) -> int:
        """Try every due delivery once; returns how many were attempted."""
        now = utcnow()
        with self.store.engine.connect() as connection:
            candidates = due(connection, now)
        done = 0
        for delivery in candidates:
            until = now + dt.timedelta(seconds=self.lease)
            if not self.store.transaction(lambda c, d=delivery, u=until: claim(c, d, u)):  # type: ignore[misc]
                continue
            self._attempt(delivery)
            done += 1
        return done

    def _attempt(self, delivery: Delivery) -> None:
        started = time.monotonic()
        error: str | None = None
        try:
            channel = self.channels.get(delivery.channel)
            if channel is None:
                raise LookupError(f"no channel named {delivery.channel!r} is configured")
            with self.store.engine.connect() as connection:
                alert = load_alert(connection, delivery.alert_id)
            if alert is None:
                raise LookupError(f"alert {delivery.alert_id} is gone")
            channel.send(alert)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("delivery of alert %s to %s failed: %s", delivery.alert_id, delivery.channel, error)
        elapsed = int((time.monotonic() - started) * 1000)
        now = utcnow()
        tried = delivery.attempts + 1
        retry_at = None
        if error is not None and tried < self.max_attempts:
            retry_at = now + dt.timedelta(seconds=min(self.max_backoff, self.backoff * 2 ** (tried - 1)))
        self.store.transaction(
            lambda c: record_attempt(c, delivery, error=error, elapsed_ms=elapsed, now=now, retry_at=retry_at)
        )


class Loop(threading.Thread):
    """Calls `tick` every `interval` seconds (sooner after a busy tick) until stopped."""

    def __init__(self, name: str, tick: Callable[[], int], interval: float = 1.0) -> None:
        super().__init__(name=name, daemon=True)
        self.tick = tick
        self.interval = interval
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            busy = 0
            try:
                busy = self.tick()
            except Exception:
                log.exception("%s failed; retrying", self.name)
            if not busy:
                self._wake.wait(self.interval)
                self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)
