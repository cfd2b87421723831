"""Event ids costledger makes for events that come without one: UUIDv7 (RFC 9562), time first."""

from __future__ import annotations

import calendar
import datetime as dt
import sqlite3
import uuid
from pathlib import Path

from costledger import Ledger, clock
from costledger.events import event_id_at, new_event_id

# A pinned instant with milliseconds; its Unix milliseconds worked out apart from the code under test.
PINNED = dt.datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=dt.UTC)
PINNED_MS = calendar.timegm((2026, 3, 1, 12, 0, 0)) * 1000 + 123


def test_the_layout_is_rfc_9562s_version_7() -> None:
    at = dt.datetime.fromtimestamp(0x0123456789AB / 1000, tz=dt.UTC)
    assert event_id_at(at, 0) == "0123456789ab" + "7000" + "8000000000000000"
    # All 74 random bits set: 12 after the version, 62 after the variant's two.
    assert event_id_at(at, 2**74 - 1) == "0123456789ab" + "7fff" + "bfffffffffffffff"
    # Bits beyond the 74 are not used.
    assert event_id_at(at, 2**80 - 1) == event_id_at(at, 2**74 - 1)


def test_a_new_id_carries_the_clocks_milliseconds() -> None:
    with clock.use(PINNED):
        made = new_event_id()
    parsed = uuid.UUID(made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert len(made) == 32 and made == made.lower()
    assert int(made[:12], 16) == PINNED_MS


def test_ids_made_later_sort_later() -> None:
    made = []
    for step in range(2_000):
        with clock.use(PINNED + dt.timedelta(milliseconds=step)):
            made.append(new_event_id())
    assert sorted(made) == made


def test_ids_of_one_millisecond_differ() -> None:
    with clock.use(PINNED):
        made = [new_event_id() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    assert {m[:12] for m in made} == {f"{PINNED_MS:012x}"}


def test_an_event_recorded_without_an_id_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(str(path))
    try:
        with clock.use(PINNED):
            ledger.record_many([{"service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 60}}] * 2)
    finally:
        ledger.close()
    with sqlite3.connect(path) as connection:
        stored = [row[0] for row in connection.execute("SELECT event_id FROM events")]
    # Two events alike but for their made ids: both kept, neither taken for the other's retry.
    assert len(stored) == 2 and len(set(stored)) == 2
    assert all(uuid.UUID(e).version == 7 and int(e[:12], 16) == PINNED_MS for e in stored)
