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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failed (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER,
    message TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""


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
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" not in str(exc):
                raise
            raise OutboxInUse(f"{self.path} is in use by another process; give each Client its own outbox") from exc
        self._db.executescript(_SCHEMA)  # commits the BEGIN; the exclusive lock stays
        self._pending = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    @property
    def pending(self) -> int:
        """Events waiting to be sent (kept in memory: the sender asks often)."""
        return self._pending

    def add(self, events: Sequence[tuple[str, str]]) -> None:
        """Append (event_id, json) pairs in one transaction: all of them are durable, or none."""
        now = time.time()
        rows = [(event_id, body, now) for event_id, body in events]
        with self._lock:
            if len(rows) == 1:
                self._db.execute("INSERT INTO pending (event_id, body, queued_at) VALUES (?, ?, ?)", rows[0])
            else:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT INTO pending (event_id, body, queued_at) VALUES (?, ?, ?)", rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            self._pending += len(rows)

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
        now = time.time()
        rows = [(p.seq, p.event_id, p.body, status, message, now) for p, status, message in refused]
        self._delete_and([p.seq for p, _, _ in refused], rows)

    def _delete_and(self, seqs: Sequence[int], failed: Sequence[tuple[object, ...]]) -> None:
        if not seqs:
            return
        with self._lock:
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
                removed = self._db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in seqs]).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._pending = max(0, self._pending - removed)

    def failed(self) -> list[Failed]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, body, status, message, failed_at FROM failed ORDER BY seq"
            ).fetchall()
        return [Failed(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
