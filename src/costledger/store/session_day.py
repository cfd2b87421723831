"""The UTC day a session started, as the database writes it: what session counts and range reads group by."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

from .schema import sessions


def session_day(dialect: str) -> ColumnElement[Any]:
    """The UTC day a session started, as 'YYYY-MM-DD' on either backend."""
    if dialect == "postgresql":
        return func.to_char(sessions.c.started_at, literal_column("'YYYY-MM-DD'"))
    # SQLite keeps a DateTime as text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(sessions.c.started_at, literal_column("1"), literal_column("10"))


__all__ = ["session_day"]
