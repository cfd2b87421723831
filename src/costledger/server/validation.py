"""Text no database can store (NUL characters, lone surrogates) is refused up front.

PostgreSQL rejects NUL in text and psycopg cannot encode a lone surrogate; left to
the database, either would become a 500 instead of a clear 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from ..errors import InvalidEvent


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problem(value: Any) -> bool:
    if isinstance(value, str):
        return not storable(value)
    if isinstance(value, Mapping):
        return any(_problem(k) or _problem(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_problem(v) for v in value)
    return False


def refuse_unstorable_events(batch: list[Any]) -> None:
    """Raise InvalidEvent naming each event field that holds NUL or a lone surrogate."""
    errors: list[tuple[int | None, str, str]] = []
    for index, item in enumerate(batch):
        if not isinstance(item, Mapping):
            continue  # parse_events names it
        for field, value in item.items():
            if _problem(field) or _problem(value):
                errors.append((index, str(field), "must not contain NUL characters or unpaired surrogates"))
    if errors:
        raise InvalidEvent(errors)


async def clean_query(request: Request) -> None:
    """A dependency: refuse query and path parameters no database can compare against."""
    bad = [("query", k) for k, v in request.query_params.multi_items() if not (storable(k) and storable(v))]
    bad += [("path", k) for k, v in request.path_params.items() if isinstance(v, str) and not storable(v)]
    if bad:
        raise RequestValidationError(
            [{"loc": where, "msg": "must not contain NUL characters or unpaired surrogates", "type": "value_error"}
             for where in bad]
        )  # fmt: skip
