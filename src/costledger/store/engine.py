"""Opening a database: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from ..storage import StorageSettings, from_environment, sqlite_pragmas

ENV_URL = "COSTLEDGER_DATABASE_URL"
ENV_PATH = "COSTLEDGER_DB"


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("costledger", appauthor=False)) / "ledger.db"


def database_url(target: str | os.PathLike[str] | None = None) -> str:
    """A SQLAlchemy URL from a path, a URL, $COSTLEDGER_DATABASE_URL, $COSTLEDGER_DB or the default file."""
    if target is None:
        target = os.environ.get(ENV_URL) or os.environ.get(ENV_PATH) or default_path()
    text = str(target)
    if "://" in text:
        if text.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the driver we ship with.
            text = "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_engine(url: str, storage: StorageSettings | None = None) -> Engine:
    """An engine for `url`; a SQLite one sizes its cache and memory map by `storage` under the environment's."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, pool_pre_ping=False)
        _sqlite_setup(engine, from_environment(storage))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_setup(engine: Engine, storage: StorageSettings) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); the driver's implicit transactions would
        # start with a shared lock and fail on upgrade when another process writes.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged event survives power loss, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        (page_size,) = cursor.execute("PRAGMA page_size").fetchone()
        for pragma in sqlite_pragmas(storage, int(page_size)):  # memory and checkpoints (costledger/storage.py)
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers (writer_engine) take the write lock up front with IMMEDIATE, so they
        # queue on busy_timeout instead of deadlocking on a read-to-write upgrade;
        # readers stay deferred and never block a writer in WAL mode.
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer_engine(engine: Engine) -> Engine:
    """The same engine, for transactions that will write."""
    return engine.execution_options(immediate=True)
