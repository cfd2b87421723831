"""The client's durable outbox: a local SQLite file of events not yet acknowledged by the server.

An event enters the outbox before `Client.record()` returns and leaves it only when
the server has answered 200 for it (or refused it as invalid: then it moves to the
dead-letter table with the server's message). Whatever is left when the process
stops — a crash, a kill -9, a server down for hours — is sent on the next start.

WAL with synchronous=NORMAL: a committed event survives the process dying at any
point (the commit is in the OS before `record()` returns); `fsync=True` also makes it
survive power loss, at the price of a disk flush per call.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import clock

# seq is handed out by the Outbox (one process owns the file), not by AUTOINCREMENT: that
# updates sqlite_sequence, a second page written to the WAL by every commit, a third of
# record()'s commit. seq never repeats: failed rows keep their seq as their key.
_PENDING = """
CREATE TABLE IF NOT EXISTS {name} (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL
)"""
_FAILED = """
CREATE TABLE IF NOT EXISTS failed (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER,
    message TEXT NOT NULL,
    failed_at REAL NOT NULL
)"""
_INSERT = "INSERT INTO pending (seq, event_id, body, queued_at) VALUES (?, ?, ?, ?)"
# A commit writes whole pages to the WAL: an event is a few hundred bytes, so small pages
# write less per record(). Only a new file takes it; an existing one keeps its page size.
_PAGE_SIZE = 1024
# SQLite checkpoints the WAL into the database file in the thread whose commit fills it, with
# two fsyncs under synchronous=NORMAL, and the next commit restarts the WAL with a third: tens
# of milliseconds inside some record() call. The sender thread's remove() does both instead;
# SQLite's own checkpoint, at a WAL of this size, is the fallback for when nothing is delivered
# (a server down for hours).
_AUTOCHECKPOINT_BYTES = 4 * 1024 * 1024
# Events added or removed: a rough measure of the WAL's growth, well under the fallback's.
_CHECKPOINT_EVENTS = 1000


@dataclass(frozen=True)
class Pending:
    seq: int
    event_id: str
    body: str  # the validated event as JSON


@dataclass(frozen=True)
class Failed:
    """An event the server refused as invalid: kept, never resent."""

    event_id: str
    event: str  # JSON
    status: int | None
    message: str
    failed_at: float


class OutboxInUse(RuntimeError):
    """Another process holds this outbox file."""


class Outbox:
    """Thread-safe: callers append while the sender thread reads and removes."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit: each statement outside an explicit BEGIN is its own transaction.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=2)
        # One process owns an outbox (two would send the same events twice); the exclusive
        # lock also spares each commit the shared-memory locking, a third of its cost.
        try:
            self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
            self._db.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_BYTES // int(page_size)}")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" not in str(exc):
                raise
            raise OutboxInUse(f"{self.path} is in use by another process; give each Client its own outbox") from exc
        try:
            self._next_seq = self._open_tables()
            self._db.execute("COMMIT")  # the exclusive lock stays
        except BaseException:
            self._db.close()
            raise
        self._pending = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])
        self._cursor = self._db.cursor()  # record()'s insert: one cursor, not a new one per call
        self._written = 0  # events added or removed since the last checkpoint

    def _open_tables(self) -> int:
        """Create or upgrade the tables (inside the opening transaction); returns the next seq to hand out."""
        self._db.execute(_FAILED)
        row = self._db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'pending'").fetchone()
        last = 0
        if row is not None and "AUTOINCREMENT" in row[0].upper():
            # An outbox written by an earlier version: same rows, same seqs, without AUTOINCREMENT.
            # Its counter may be past every row left (sent events are deleted): keep counting from it.
            (last,) = self._db.execute(
                "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'pending'"
            ).fetchone()
            self._db.execute(_PENDING.format(name="pending_upgrade"))
            self._db.execute("INSERT INTO pending_upgrade SELECT seq, event_id, body, queued_at FROM pending")
            self._db.execute("DROP TABLE pending")
            self._db.execute("ALTER TABLE pending_upgrade RENAME TO pending")
        else:
            self._db.execute(_PENDING.format(name="pending"))
        (top,) = self._db.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM pending), 0), coalesce((SELECT max(seq) FROM failed), 0))"
        ).fetchone()
        return max(int(last), int(top)) + 1

    @property
    def pending(self) -> int:
        """Events waiting to be sent (kept in memory: the sender asks often)."""
        return self._pending

    def add_one(self, event_id: str, body: str) -> None:
        """Append one event: committed (an autocommit statement) when this returns."""
        now = clock.timestamp()
        with self._lock:
            self._cursor.execute(_INSERT, (self._next_seq, event_id, body, now))
            self._next_seq += 1
            self._pending += 1
            self._written += 1

    def add(self, events: Sequence[tuple[str, str]]) -> None:
        """Append (event_id, json) pairs in one transaction: all of them are durable, or none."""
        if len(events) <= 1:
            if events:
                self.add_one(*events[0])
            return
        now = clock.timestamp()
        with self._lock:
            first = self._next_seq
            rows = [(first + i, event_id, body, now) for i, (event_id, body) in enumerate(events)]
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._next_seq += len(rows)
            self._pending += len(rows)
            self._written += len(rows)

    def peek(self, limit: int, max_bytes: int) -> list[Pending]:
        """The oldest pending events, at most `limit` and about `max_bytes` of JSON (at least one)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, event_id, body FROM pending ORDER BY seq LIMIT ?", (limit,)).fetchall()
        out: list[Pending] = []
        size = 0
        for seq, event_id, body in rows:
            size += len(body) + 1
            if out and size > max_bytes:
                break
            out.append(Pending(seq, event_id, body))
        return out

    def remove(self, seqs: Sequence[int]) -> None:
        """The server acknowledged these."""
        self._delete_and(seqs, [])

    def dead_letter(self, refused: Sequence[tuple[Pending, int | None, str]]) -> None:
        """Move events the server refused as invalid to the failed table, with its message."""
        now = clock.timestamp()
        rows = [(p.seq, p.event_id, p.body, status, message, now) for p, status, message in refused]
        self._delete_and([p.seq for p, _, _ in refused], rows)

    def _delete_and(self, seqs: Sequence[int], failed: Sequence[tuple[object, ...]]) -> None:
        if not seqs:
            return
        with self._lock:
            if self._written >= _CHECKPOINT_EVENTS:
                # Before this transaction, whose commit then restarts the WAL (see _AUTOCHECKPOINT_BYTES).
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._written = 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if failed:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO failed (seq, event_id, body, status, message, failed_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        failed,
                    )
                # rowcount counts only rows that were still there: another process sharing
                # the file may have sent and removed some of them already.
                if list(seqs) == list(range(seqs[0], seqs[-1] + 1)):
                    # A whole batch is a run of seqs: one range delete keeps the lock, which
                    # record() waits on, a fraction of the time 500 single deletes hold it.
                    removed = self._db.execute(
                        "DELETE FROM pending WHERE seq BETWEEN ? AND ?", (seqs[0], seqs[-1])
                    ).rowcount
                else:
                    removed = self._db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in seqs]).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._pending = max(0, self._pending - removed)
            self._written += len(seqs)

    def failed(self) -> list[Failed]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, body, status, message, failed_at FROM failed ORDER BY seq"
            ).fetchall()
        return [Failed(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
