"""Alembic migrations for both backends, run programmatically."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text

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


def ensure_current(engine: Engine) -> None:
    if current(engine) != head():
        upgrade(engine)
