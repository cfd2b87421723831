"""The Client's sender: a background thread that delivers the outbox in batches until the server has every event.

A batch the server cannot take is told apart from an outage: a server error (500) that
repeats on the same batch splits it, what the server takes is delivered, and an event that
still fails alone while the server takes others moves to the dead-letter table with the
server's reason. Outages (no answer, 502/503/504, 429…) are retried whole, after the
server's Retry-After when it gives one.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from .outbox import Outbox, Pending

log = logging.getLogger("costledger.client")

BATCH_EVENTS = 500
# Well under the server's 5 MB: a batch of 500 events at their 64 KiB metadata limit would not be.
BATCH_BYTES = 4 * 1024 * 1024
# Only these say "this event is invalid": the events move to the dead-letter table. Every
# other answer (5xx, 401/403 while a key is rotated, 404 from a proxy in front of a server
# being deployed, 429…) is retried: a misconfiguration must not empty the outbox.
_INVALID_STATUSES = {400, 413, 415, 422}
# An outage, not a batch the server cannot take: a proxy without a server behind it (502, 504) or a
# server whose storage is down (503, with Retry-After). Retried as they are, never split.
_OUTAGE_STATUSES = {502, 503, 504}
# A single event is dead-lettered after failing alone this many times in a row with a server error…
_ALONE_TRIES = 3
# … with this pause between them (seconds, doubling): long enough for a passing hiccup to pass.
_ALONE_PAUSE = 0.2
# A batch is split once a server error repeats on it this many times.
_SPLIT_AFTER = 2


class _Answer:
    """How a POST of one batch went, as the sender thread acts on it."""

    SENT = "sent"  # the batch left the outbox: acknowledged, or refused as invalid and dead-lettered
    RETRY = "retry"  # no answer, an outage or anything else: resend it later, whole
    SERVER_ERROR = "server error"  # a 5xx that is not an outage: maybe one event the server cannot take

    def __init__(self, kind: str, status: int | None = None, message: str = "", retry_after: float = 0.0) -> None:
        self.kind = kind
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class ClientStats:
    sent_batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    unpriced: int = 0
    failed: int = 0
    retries: int = 0
    last_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Sender:
    """Owns the thread and everything it does; the Client only records and asks it to flush or stop."""

    def __init__(
        self, outbox: Outbox, http: httpx.Client, stats: ClientStats, *, batch_size: int, interval: float,
        max_backoff: float,
    ) -> None:  # fmt: skip
        self.outbox = outbox
        self.stats = stats
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self._http = http
        self._wake = threading.Condition()
        self._flushing = 0
        self._flush_calls = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="costledger-client-sender", daemon=True)
        self._thread.start()

    def batch_waiting(self) -> None:
        """A full batch is in the outbox: no need to wait for the interval."""
        with self._wake:
            self._wake.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything now; True once the outbox is empty, False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            self._flushing += 1
            self._flush_calls += 1
            self._wake.notify_all()
            try:
                while self.outbox.pending and self._thread.is_alive():
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._wake.wait(0.05 if left is None else min(left, 0.05))
            finally:
                self._flushing -= 1
        return self.outbox.pending == 0

    def stop(self) -> None:
        """Stop the thread; a request in flight finishes (or times out) first, then the HTTP client closes."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._thread.join(timeout=self._http.timeout.read or 30.0)
        self._http.close()

    def _run(self) -> None:
        failures = 0
        repeats, failing = 0, None  # server errors in a row on the batch whose oldest event is seq `failing`
        last_send = time.monotonic()
        while True:
            with self._wake:
                while not self._stopping:
                    due = time.monotonic() - last_send >= self.interval
                    if self.outbox.pending and (self._flushing or due or self.outbox.pending >= self.batch_size):
                        break
                    self._wake.wait(max(0.01, self.interval - (time.monotonic() - last_send)))
                if self._stopping:
                    return
            last_send = time.monotonic()
            retry_after = 0.0
            try:
                batch = self.outbox.peek(self.batch_size, BATCH_BYTES)
                if not batch:
                    continue
                answer = self._send(batch)
                if answer.kind == _Answer.SERVER_ERROR:
                    # The same oldest event failing again: split the batch to find what the server cannot take.
                    repeats = repeats + 1 if batch[0].seq == failing else 1
                    failing = batch[0].seq
                    if repeats >= _SPLIT_AFTER:
                        answer = self._isolate(batch)
                sent = answer.kind == _Answer.SENT
                retry_after = answer.retry_after
            except Exception as exc:  # a full disk, say: the thread lives on and retries, or stops cleanly
                if self._stopping:
                    return
                log.exception("costledger client: delivery failed unexpectedly; retrying")
                self._note_error(f"{exc.__class__.__name__}: {exc}")
                sent = False
            if sent:
                failures = 0
                repeats, failing = 0, None
                with self._wake:
                    self._wake.notify_all()  # flush() waiters
                continue
            failures += 1
            with self.stats._lock:
                self.stats.retries += 1
            # A server's Retry-After is the least wait (up to max_backoff): it knows when it can take more.
            delay = max(min(self.max_backoff, 0.1 * 2 ** min(failures, 20)), min(retry_after, self.max_backoff))
            # Equal jitter: always some wait, never a herd of clients retrying in step. A flush()
            # cuts the wait short; new events do not.
            deadline = time.monotonic() + delay / 2 + random.uniform(0, delay / 2)
            with self._wake:
                flushes = self._flush_calls
                while not self._stopping and self._flush_calls == flushes and time.monotonic() < deadline:
                    self._wake.wait(deadline - time.monotonic())

    def _send(self, batch: list[Pending]) -> _Answer:
        """One POST, and what its answer did to the outbox (see _Answer)."""
        body = '{"events":[' + ",".join(p.body for p in batch) + "]}"
        try:
            try:
                response = self._http.post("/v1/events", content=body.encode())
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                # A kept-alive connection the server closed meanwhile (it does after a 500): once more on a
                # new one. Resending is safe: the server counts an event_id once.
                response = self._http.post("/v1/events", content=body.encode())
        except httpx.HTTPError as exc:
            self._note_error(f"{exc.__class__.__name__}: {exc}")
            return _Answer(_Answer.RETRY)
        status = response.status_code
        if status == 200:
            self.outbox.remove([p.seq for p in batch])
            try:
                counts = response.json()
            except ValueError:
                counts = {}
            with self.stats._lock:
                self.stats.sent_batches += 1
                self.stats.accepted += int(counts.get("accepted", 0))
                self.stats.duplicates += int(counts.get("duplicates", 0))
                self.stats.unpriced += int(counts.get("unpriced", 0))
                self.stats.last_error = None
            return _Answer(_Answer.SENT, status)
        message = _message(response)
        if status not in _INVALID_STATUSES:
            self._note_error(f"HTTP {status}: {message}")
            if 400 <= status < 500 and status not in (408, 425, 429):
                log.error("costledger server answered HTTP %s (%s); events stay queued", status, message)
            kind = _Answer.SERVER_ERROR if status >= 500 and status not in _OUTAGE_STATUSES else _Answer.RETRY
            return _Answer(kind, status, message, _retry_after(response))
        if status == 413 and len(batch) > 1:
            # Too big for the server: send the halves on their own, never drop.
            half = len(batch) // 2
            first = self._send(batch[:half])
            return self._send(batch[half:]) if first.kind == _Answer.SENT else first
        self._dead_letter(batch, status, response, message)
        return _Answer(_Answer.SENT, status)

    def _isolate(self, batch: list[Pending]) -> _Answer:
        """Split a batch the server keeps failing with a server error, halving each failing part: deliver
        what the server takes, and dead-letter an event that fails alone, with the server's reason.

        Only once the server has taken others in this round, and the event still fails alone after that
        (_ALONE_TRIES times): a server that fails every request is an outage, and after a few failed
        requests without a success the split stops with nothing dead-lettered. An outage on the way
        stops it too (SENT if some of the batch left the outbox, so the sender goes on at once; else RETRY).
        """
        suspects: list[Pending] = []
        moved = False
        unlucky = 0  # requests failed before any success
        give_up = 2 * len(batch).bit_length() + 4  # a few more than reaching one event takes
        # A stack; the newer half first, so one success (the server takes other events) comes early
        # even when the oldest events are all poisoned.
        parts = [batch]
        while parts and not self._stopping:
            part = parts.pop()
            answer = self._send(part)
            if answer.kind == _Answer.SENT:
                moved = True
            elif answer.kind == _Answer.RETRY:
                return _Answer(_Answer.SENT) if moved else answer
            else:
                unlucky += not moved
                if unlucky >= give_up:
                    return _Answer(_Answer.RETRY, answer.status, answer.message, answer.retry_after)
                if len(part) == 1:
                    suspects.append(part[0])
                else:
                    half = len(part) // 2
                    parts.extend([part[:half], part[half:]])
        if not moved:
            return _Answer(_Answer.RETRY)
        refused: list[tuple[Pending, int | None, str]] = []
        for pending in suspects:
            # Again, alone: a server that mended during the split, or a passing hiccup, takes it now.
            for attempt in range(_ALONE_TRIES - 1):
                if self._stopping:
                    return _Answer(_Answer.SENT)
                time.sleep(_ALONE_PAUSE * 2**attempt)
                answer = self._send([pending])
                if answer.kind != _Answer.SERVER_ERROR:
                    break
            if answer.kind == _Answer.RETRY:
                break
            if answer.kind == _Answer.SERVER_ERROR:
                why = f"HTTP {answer.status}: {answer.message} (failed alone {_ALONE_TRIES} times while the server "
                refused.append((pending, answer.status, why + "took other events)"))
        if refused:
            self.outbox.dead_letter(refused)
            with self.stats._lock:
                self.stats.failed += len(refused)
            for pending, _, why in refused:
                log.warning("costledger server cannot take event %s: %s; moved to the dead-letter table",
                            pending.event_id, why)  # fmt: skip
        return _Answer(_Answer.SENT)

    def _dead_letter(self, batch: list[Pending], status: int, response: httpx.Response, message: str) -> None:
        per_event: dict[int, list[str]] = {}
        if status == 422:
            try:
                for err in response.json().get("errors", []):
                    if isinstance(err.get("index"), int) and 0 <= err["index"] < len(batch):
                        text = f"{err.get('field')}: {err.get('message')}" if err.get("field") else str(err["message"])
                        per_event.setdefault(err["index"], []).append(text)
            except (ValueError, AttributeError, TypeError):
                per_event = {}
        if per_event:
            # The rest of the batch was fine: it stays queued and goes out in the next batch.
            refused = [(batch[i], status, "; ".join(msgs)) for i, msgs in sorted(per_event.items())]
        else:
            refused = [(p, status, message) for p in batch]
        self.outbox.dead_letter(refused)
        with self.stats._lock:
            self.stats.failed += len(refused)
        for pending, _, why in refused:
            log.warning("costledger server refused event %s (HTTP %s): %s", pending.event_id, status, why)

    def _note_error(self, text: str) -> None:
        with self.stats._lock:
            self.stats.last_error = text
        log.debug("costledger delivery failed, will retry: %s", text)


def _retry_after(response: httpx.Response) -> float:
    """The seconds of a Retry-After header (0 without one; an HTTP date is not used)."""
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else 0.0


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, Mapping) and "detail" in data:
        return str(data["detail"])
    return json.dumps(data)[:500]


__all__ = ["BATCH_BYTES", "BATCH_EVENTS", "ClientStats", "Sender"]
