"""The Client's outbox on a real SQLite file: seqs, upgrades, all-or-nothing adds, who checkpoints the WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from costledger.outbox import Outbox

BODY = '{"service":"deepgram","model":"nova-3","usage":{"audio_seconds":1}}'

# The tables as the first versions of the outbox created them (seq AUTOINCREMENT).
LEGACY_SCHEMA = """
CREATE TABLE pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE failed (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER,
    message TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""


def wal_restarts(path: Path) -> int:
    """The WAL header's checkpoint sequence: SQLite adds one each time it restarts the WAL after a checkpoint."""
    with open(f"{path}-wal", "rb") as wal:
        return int.from_bytes(wal.read(16)[12:16], "big")


def test_seqs_are_never_reused_so_a_dead_letter_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "out.db"
    outbox = Outbox(path)
    outbox.add_one("first", BODY)
    (first,) = outbox.peek(10, 1 << 20)
    outbox.dead_letter([(first, 422, "refused")])
    assert outbox.pending == 0
    outbox.add_one("second", BODY)  # the table is empty: a rowid would start again at 1
    (second,) = outbox.peek(10, 1 << 20)
    assert second.seq > first.seq
    outbox.dead_letter([(second, 422, "refused too")])
    outbox.close()
    again = Outbox(path)  # and after a restart, counting on from the failed table
    again.add_one("third", BODY)
    (third,) = again.peek(10, 1 << 20)
    assert third.seq > second.seq
    again.dead_letter([(third, 400, "refused as well")])
    assert [(f.event_id, f.message) for f in again.failed()] == [
        ("first", "refused"),
        ("second", "refused too"),
        ("third", "refused as well"),
    ]
    again.close()


def test_an_outbox_of_the_autoincrement_format_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "out.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(LEGACY_SCHEMA)
    db.executemany(
        "INSERT INTO pending (event_id, body, queued_at) VALUES (?, ?, 0)", [(f"e{i}", BODY) for i in range(1, 8)]
    )
    db.execute("DELETE FROM pending WHERE seq >= 6 OR seq <= 2")  # sent; seq 7 stays in sqlite_sequence
    db.execute("INSERT INTO failed VALUES (2, 'e2', ?, 422, 'refused', 0)", (BODY,))
    db.close()

    outbox = Outbox(path)
    assert outbox.pending == 3
    assert [(p.seq, p.event_id) for p in outbox.peek(10, 1 << 20)] == [(3, "e3"), (4, "e4"), (5, "e5")]
    outbox.add_one("new", BODY)
    assert outbox.peek(10, 1 << 20)[-1].seq == 8  # past every seq the old counter handed out
    assert [f.event_id for f in outbox.failed()] == ["e2"]
    outbox.close()
    db = sqlite3.connect(path)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'pending'").fetchone()
    assert "AUTOINCREMENT" not in sql.upper()
    assert db.execute("SELECT count(*) FROM pending").fetchone() == (4,)
    db.close()


def test_a_batch_that_fails_adds_nothing_and_the_outbox_goes_on(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "out.db")
    outbox.add([("a", BODY), ("b", BODY)])
    with pytest.raises(sqlite3.IntegrityError):
        outbox.add([("c", BODY), (None, BODY)])  # type: ignore[list-item]  # NOT NULL: the whole batch fails
    assert outbox.pending == 2
    outbox.add_one("d", BODY)  # not left inside the failed transaction: this one is committed
    outbox.close()
    again = Outbox(tmp_path / "out.db")
    assert [p.event_id for p in again.peek(10, 1 << 20)] == ["a", "b", "d"]
    again.close()


def test_remove_deletes_exactly_the_acknowledged_events(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "out.db")
    outbox.add([(f"e{i}", BODY) for i in range(8)])
    batch = outbox.peek(10, 1 << 20)
    outbox.remove([p.seq for p in batch[1:4]])  # a run of seqs
    outbox.remove([batch[5].seq, batch[7].seq])  # not a run
    assert [p.event_id for p in outbox.peek(10, 1 << 20)] == ["e0", "e4", "e6"]
    assert outbox.pending == 3
    outbox.close()


def test_record_never_checkpoints_the_wal_the_sender_does(tmp_path: Path) -> None:
    # A checkpoint costs fsyncs, and the commit after it restarts the WAL with one more: it
    # belongs to the sender thread (remove), never to record() (add_one) waiting on it.
    path = tmp_path / "out.db"
    outbox = Outbox(path)
    outbox.add_one("first", BODY)
    restarts = wal_restarts(path)
    for i in range(1500):
        outbox.add_one(f"e{i}", BODY)
    assert wal_restarts(path) == restarts
    while outbox.pending:
        outbox.remove([p.seq for p in outbox.peek(500, 1 << 20)])
    checkpointed = wal_restarts(path)
    assert checkpointed > restarts
    outbox.add_one("after", BODY)
    assert wal_restarts(path) == checkpointed
    outbox.close()
