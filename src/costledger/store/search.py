"""Finding a session or a user by its id, or by the start of it: what a search box jumps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

from .alerts_schema import period_totals
from .schema import sessions

# Above every character an id can hold: in SQLite (which compares text by code point),
# `id >= text AND id < text + TOP` selects the ids starting with `text` by a range of the index, case as
# written, where LIKE would ignore case and scan. PostgreSQL's LIKE keeps case; its collation may not
# sort TOP last.
TOP = "\U0010ffff"


@dataclass(frozen=True)
class Found:
    sessions: list[str]  # session ids: the exact one first, then those starting with the text
    users: list[str]  # user ids, the same way


def _starts(connection: Connection, column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    if connection.dialect.name == "postgresql":
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    return and_(column >= text, column < text + TOP)


def find_ids(connection: Connection, text: str, months: Sequence[str], limit: int = 20) -> Found:
    """Sessions whose id is `text` or starts with it, and users likewise among those with events in
    `months` ('YYYY-MM', from the per-month period totals); shortest first, at most `limit` of each."""
    text = text.strip()
    if not text:
        return Found([], [])
    session_ids = connection.execute(
        select(sessions.c.session_id)
        .where(_starts(connection, sessions.c.session_id, text))
        .order_by(func.length(sessions.c.session_id), sessions.c.session_id)
        .limit(limit)
    ).scalars()
    c = period_totals.c
    users = connection.execute(
        select(c.value)
        .where(c.period.in_(sorted(set(months))), c.dimension == "user_id", _starts(connection, c.value, text))
        .group_by(c.value)
        .order_by(func.length(c.value), c.value)
        .limit(limit)
    ).scalars()
    return Found([str(s) for s in session_ids], [str(u) for u in users if u])


__all__ = ["Found", "find_ids"]
