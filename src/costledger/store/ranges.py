"""The conditions of a range and of a tag, shared by the reads of the events, the rollups and the sessions
(a module of their own: the query modules that use them import one another in one direction only)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import ColumnElement, Connection, cast, func, literal, select

from .schema import events, sessions
from .types import Filters


def in_days(table: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """The rows of `table` (events or a daily aggregate: a `day` column) in the filters' UTC days."""
    conditions: list[ColumnElement[bool]] = []
    if filters.since:
        conditions.append(table.c.day >= filters.since)
    if filters.until:
        conditions.append(table.c.day <= filters.until)
    return conditions


def after_range(filters: Filters) -> dt.datetime | None:
    """The first instant after the filters' last day (None: no last day, or 9999-12-31, after which
    nothing can start)."""
    if filters.until and filters.until < dt.date.max:
        return dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
    return None


def started_in(filters: Filters) -> list[ColumnElement[bool]]:
    """The sessions that started in the filters' UTC days."""
    conditions: list[ColumnElement[bool]] = []
    if filters.since:
        conditions.append(sessions.c.started_at >= dt.datetime.combine(filters.since, dt.time()))
    end = after_range(filters)
    if end is not None:
        conditions.append(sessions.c.started_at < end)
    return conditions


def tag_is(connection: Connection, key: str, value: str) -> ColumnElement[bool]:
    """The event's tag `key` is `value`, exactly, for any key, on either backend.

    SQLite's JSON paths match a key against its text as stored, escapes and all: the tags are written
    with non-ASCII characters, quotes and backslashes escaped, so a path finds such a key nowhere.
    json_each reads the keys unescaped; the path (faster) is kept for the keys it finds.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return func.jsonb_extract_path_text(cast(events.c.tags, JSONB), key) == value
    if _PLAIN_KEY.fullmatch(key):
        return func.json_extract(events.c.tags, '$."' + key + '"') == value
    tags = func.json_each(events.c.tags).table_valued("key", "value")
    return select(literal(1)).select_from(tags).where(tags.c.key == key, tags.c.value == value).exists()


# Printable ASCII but the quote and the backslash: keys a JSON path matches as written.
_PLAIN_KEY = re.compile(r"[ !#-\[\]-~]*")


__all__ = ["after_range", "in_days", "started_in", "tag_is"]
