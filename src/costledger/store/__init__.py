"""Storage: SQLAlchemy Core over SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from ..storage import StorageSettings
from . import migrate
from .engine import database_url, make_engine, writer_engine
from .period_groups import count_periods
from .types import Filters, SessionSummary, Total
from .writer import Written, touch_session, write_events

T = TypeVar("T")

# What /healthz wants free beside a SQLite ledger (Store.probe_write).
MIN_FREE_BYTES = 1 << 20

# PostgreSQL deadlock and serialization failures are safe to retry whole.
_RETRY_PGCODES = {"40P01", "40001"}


def _retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRY_PGCODES


class Store:
    """One database. Opening it brings its schema up to date."""

    def __init__(
        self, target: str | None = None, *, upgrade: bool = True, storage: StorageSettings | None = None
    ) -> None:
        self.url = database_url(target)
        # `storage`: costledger.toml's [storage] (the environment overrides it); None: the defaults.
        self.engine = make_engine(self.url, storage)
        self._writer = writer_engine(self.engine)
        # Called inside the write transaction with what it inserted (alert evaluation,
        # budget settlement): they see exactly the events that were counted.
        self.on_write: list[Callable[[Connection, Written], None]] = []
        if upgrade:
            migrate.ensure_current(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def transaction(self, work: Callable[[Connection], T], attempts: int = 8) -> T:
        """Run `work` in one transaction, retrying it whole on lock timeouts and deadlocks."""
        for attempt in range(attempts):
            try:
                with self._writer.begin() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if attempt == attempts - 1 or not _retryable(exc):
                    raise
                time.sleep(min(2.0, 0.02 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def write(self, rows: Sequence[dict[str, Any]]) -> Written:
        def work(connection: Connection) -> Written:
            written = write_events(connection, rows)
            # The per-period aggregates every page and alert reads, in the events' transaction.
            written.period_keys = count_periods(connection, written.buckets)
            for hook in self.on_write:
                hook(connection, written)
            return written

        return self.transaction(work)

    def probe_write(self, timeout: float = 2.0) -> None:
        """Write the health_probe row in a transaction of its own, waiting at most `timeout` seconds for the
        database; raises what the database raises when it cannot (a full disk, a lost connection…).

        A SQLite file also needs MIN_FREE_BYTES free beside it: a one-row write fits in the WAL's old
        frames on a full disk, a batch of events does not."""
        if self.dialect == "sqlite" and self.engine.url.database:
            import os

            found = os.statvfs(os.path.dirname(os.path.abspath(self.engine.url.database)))
            if found.f_bavail * found.f_frsize < MIN_FREE_BYTES:
                raise OSError(28, "No space left on device")
        from sqlalchemy.dialects import postgresql, sqlite

        from .. import clock
        from .schema import health_probe

        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert(health_probe).values(id=1, written_at=clock.utcnow())
        statement = statement.on_conflict_do_update(index_elements=["id"], set_={"written_at": clock.utcnow()})
        millis = int(timeout * 1000)
        with self._writer.connect() as connection:
            sqlite_wait = connection.connection.cursor if self.dialect == "sqlite" else None
            if sqlite_wait is not None:  # on the driver's connection: not a statement of a transaction
                sqlite_wait().execute(f"PRAGMA busy_timeout={millis}")
            try:
                with connection.begin():
                    if self.dialect == "postgresql":
                        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
                    connection.execute(statement)
            finally:
                if sqlite_wait is not None:
                    sqlite_wait().execute("PRAGMA busy_timeout=60000")  # engine.py's, for the pool

    def touch_session(self, session_id: str, at: Any, fields: dict[str, Any]) -> None:
        self.transaction(lambda c: touch_session(c, session_id, at, fields))

    def totals(self, by: Sequence[str], filters: Filters = Filters()) -> list[Total]:
        # The queries load on first use: a command that only records, checks or lists keys skips them.
        from . import queries

        with self.engine.connect() as connection:
            return queries.totals(connection, by, filters)

    def session(self, session_id: str) -> SessionSummary | None:
        from . import queries

        with self.engine.connect() as connection:
            return queries.session_summary(connection, session_id)

    def close(self) -> None:
        self.engine.dispose()


__all__ = ["Filters", "SessionSummary", "StorageSettings", "Store", "Total", "Written"]
