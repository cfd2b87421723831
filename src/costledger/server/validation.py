"""Query and path parameters no database can compare against are refused up front.

PostgreSQL rejects NUL in text and psycopg cannot encode a lone surrogate; left to
the database, either would become a 500 instead of a clear 422. (Events get the same
check in events.parse_events, whatever way they arrive.)
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from ..events import storable


async def clean_query(request: Request) -> None:
    """A dependency: refuse query and path parameters no database can compare against."""
    bad = [("query", k) for k, v in request.query_params.multi_items() if not (storable(k) and storable(v))]
    bad += [("path", k) for k, v in request.path_params.items() if isinstance(v, str) and not storable(v)]
    if bad:
        raise RequestValidationError(
            [{"loc": where, "msg": "must not contain NUL characters or unpaired surrogates", "type": "value_error"}
             for where in bad]
        )  # fmt: skip
