"""Query parameters shared by the reading routes: a date range, dimensions and tags → store Filters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from ..dates import WINDOW, parse_day, parse_instant, parse_month
from ..store import Filters

# The query parameter (the user's word) → the column it filters.
DIMENSION_PARAMS = {"service": "service", "model": "model", "agent": "agent", "user": "user_id",
                    "tier": "tier", "mode": "mode", "session": "session_id"}  # fmt: skip


def _strict_day(value: object) -> object:
    return parse_day(value) if isinstance(value, str) else value


def _strict_month(value: object) -> object:
    if isinstance(value, str):
        parse_month(value)
    return value


def _strict_moment(value: object) -> object:
    """A day (its midnight, UTC) or an RFC 3339 time."""
    if isinstance(value, str):
        if len(value) == 10:
            return dt.datetime.combine(parse_day(value), dt.time(), dt.UTC)
        return parse_instant(value)
    return value


# Query parameters of dates: strictly written (YYYY-MM-DD, YYYY-MM, RFC 3339) and inside the window of
# costledger.dates, else a 422 naming the parameter.
Day = BeforeValidator(_strict_day)
Month = BeforeValidator(_strict_month)
Moment = BeforeValidator(_strict_moment)
SinceDay = Annotated[dt.date | None, Day, Query(description=f"first UTC day, inclusive ({WINDOW})",
                                               examples=["2026-11-01"])]  # fmt: skip
UntilDay = Annotated[dt.date | None, Day, Query(description=f"last UTC day, inclusive ({WINDOW})",
                                               examples=["2026-11-30"])]  # fmt: skip


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


def parse_tags(tags: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in tags:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _invalid("tag", f"expected key=value, got {item!r}")
        out[key] = value
    return out


def event_filters(
    since: SinceDay = None,
    until: UntilDay = None,
    service: Annotated[str | None, Query(max_length=256, examples=["anthropic"])] = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    agent: Annotated[str | None, Query(max_length=256)] = None,
    user: Annotated[str | None, Query(max_length=256, description="user_id")] = None,
    tier: Annotated[str | None, Query(max_length=256)] = None,
    mode: Annotated[str | None, Query(max_length=256)] = None,
    session: Annotated[str | None, Query(max_length=256, description="session_id")] = None,
    tag: Annotated[list[str] | None, Query(description="key=value, repeatable", examples=["env=prod"])] = None,
) -> Filters:
    if since and until and since > until:
        raise _invalid("since", f"since ({since}) is after until ({until})")
    values = {"service": service, "model": model, "agent": agent, "user": user, "tier": tier, "mode": mode,
              "session": session}  # fmt: skip
    dims = {DIMENSION_PARAMS[k]: v for k, v in values.items() if v is not None}
    return Filters(since=since, until=until, dims=dims, tags=parse_tags(tag or []))


FiltersDep = Annotated[Filters, Depends(event_filters)]
