"""The one clock: every "now" and "today" of the library comes from here (DESIGN section 3b).

Production reads real UTC time. `COSTLEDGER_NOW` (an RFC 3339 instant with an offset, e.g.
`2026-12-01T09:00:00Z`) pins it for a whole process — the CLI, `costledger serve` and its workers,
an embedded Ledger — so a person can reproduce what the dashboard showed on a given day. In code,
`use(instant)` pins it for a block (tests, notebooks) and `set_clock()` for the process.

A pinned clock does not move: every read returns the same instant, so a test pinned to the last
seconds of a UTC day never crosses midnight half-way. Durations (timeouts, backoff) are not
"now": they use `time.monotonic()`, which this clock does not touch.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from .errors import ConfigError

ENV = "COSTLEDGER_NOW"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)  # clock: the one read of the wall clock

    def __repr__(self) -> str:
        return "SystemClock()"


@dataclass(frozen=True)
class FixedClock:
    """A clock pinned to one instant."""

    instant: dt.datetime

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise ValueError("a pinned instant needs a UTC offset")
        object.__setattr__(self, "instant", self.instant.astimezone(dt.UTC))

    def now(self) -> dt.datetime:
        return self.instant


SYSTEM = SystemClock()
_pinned: Clock | None = None
_from_env: tuple[str, FixedClock] | None = None


def parse_instant(text: str, what: str = ENV) -> dt.datetime:
    """An RFC 3339 instant with an offset (`Z` or `+02:00`), as UTC; ConfigError naming `what` if not."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in text.upper():
        raise ConfigError(f"{what}: expected an RFC 3339 instant with an offset such as 2026-12-01T09:00:00Z, "
                          f"not {text!r}")  # fmt: skip
    return value.astimezone(dt.UTC)


def current() -> Clock:
    """The clock in force: `set_clock`/`use`, else `$COSTLEDGER_NOW`, else real time."""
    global _from_env
    if _pinned is not None:
        return _pinned
    text = os.environ.get(ENV)
    if not text:
        return SYSTEM
    if _from_env is None or _from_env[0] != text:
        _from_env = (text, FixedClock(parse_instant(text)))
    return _from_env[1]


def now() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return current().now()


def utcnow() -> dt.datetime:
    """Now as the store keeps instants: naive UTC."""
    return current().now().replace(tzinfo=None)


def today() -> dt.date:
    """Today's UTC date."""
    return current().now().date()


def timestamp() -> float:
    """Now in seconds since the epoch (cookie expiries, the client's outbox)."""
    found = current()
    # Real time as the OS gives it, without a datetime made and taken apart: every Client.record()
    # stamps its outbox row with it (a microsecond of its ~20).
    return time.time() if found is SYSTEM else found.now().timestamp()  # clock: the same wall clock


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MILLISECOND = dt.timedelta(milliseconds=1)


def milliseconds_of(instant: dt.datetime) -> int:
    """An aware instant in whole milliseconds since the Unix epoch (floored)."""
    return (instant - _EPOCH) // _MILLISECOND


def milliseconds() -> int:
    """Now in whole milliseconds since the epoch (the time in a made event id)."""
    found = current()
    # As timestamp(): every event recorded without an id reads it, from the OS without a datetime.
    return time.time_ns() // 1_000_000 if found is SYSTEM else milliseconds_of(found.now())  # clock: the same


def set_clock(clock: Clock | dt.datetime | None) -> None:
    """Pin the process's clock (an instant or a Clock); None goes back to `$COSTLEDGER_NOW` / real time."""
    global _pinned
    _pinned = FixedClock(clock) if isinstance(clock, dt.datetime) else clock


@contextmanager
def use(clock: Clock | dt.datetime) -> Iterator[Clock]:
    """Pin the clock inside a `with` block, then put back what was there."""
    global _pinned
    before = _pinned
    set_clock(clock)
    try:
        assert _pinned is not None
        yield _pinned
    finally:
        _pinned = before


__all__ = ["ENV", "SYSTEM", "Clock", "FixedClock", "SystemClock", "current", "now", "parse_instant",
           "set_clock", "timestamp", "today", "use", "utcnow"]  # fmt: skip
