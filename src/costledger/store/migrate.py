"""Alembic migrations for both backends, run programmatically."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    current = script.get_current_head()
    assert current is not None
    return current


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision`; safe when several processes start at once."""
    from alembic import command

    from .engine import writer_engine

    with writer_engine(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            # One migrator at a time; the others find the work done.
            connection.execute(text("SELECT pg_advisory_xact_lock(7262151)"))
        command.upgrade(_config(connection), revision)  # type: ignore[arg-type]


def numbered_head() -> str:
    """The newest revision from the file names alone (0004_….py is revision "0004"): no Alembic import.

    Migrations are numbered files whose revision id is their number (tests/store/test_migrations.py
    checks it), so a ledger already at this revision needs nothing from Alembic to open.
    """
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _stamped(engine: Engine) -> str | None:
    """The revision the database says it is at, or None (no version table yet, or not readable)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return None
    return rows[0] if len(rows) == 1 else None


def ensure_current(engine: Engine) -> None:
    # Importing Alembic costs a read-only command a quarter of a second: ask the table first.
    if _stamped(engine) == numbered_head():
        return
    if current(engine) != head():
        upgrade(engine)
