"""GET /v1/alerts (fired alerts) and GET /v1/budget/check (may this user/session spend N more?).

The server also delivers queued alerts: this router's lifespan runs the delivery
worker (and the bus publisher) for as long as the app runs, off the request path.
Set COSTLEDGER_ALERT_DELIVERY=off to leave delivery to `costledger alerts deliver`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.exceptions import RequestValidationError

from ..dates import WINDOW, parse_day, parse_instant
from .deps import AdminKey, IngestKey, LedgerDep
from .schemas import errors
from .validation import clean_query


@asynccontextmanager
async def _deliver(app: FastAPI) -> AsyncIterator[None]:
    ledger = app.state.ledger
    if os.environ.get("COSTLEDGER_ALERT_DELIVERY", "").lower() in ("off", "0", "false"):
        yield
        return
    ledger.alerts.start()
    try:
        yield
    finally:
        ledger.alerts.stop()


router = APIRouter(tags=["alerts"], dependencies=[Depends(clean_query)], lifespan=_deliver)


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "type": "value_error", "msg": message}])


@router.get("/v1/alerts", responses=errors(401, 403, 422))
def list_alerts(
    ledger: LedgerDep,
    _key: AdminKey,
    since: Annotated[str | None, Query(description="fired at or after (date or RFC 3339 time)")] = None,
    kind: Annotated[str | None, Query(description="only this kind of rule")] = None,
    unacked: Annotated[bool, Query(description="only alerts nobody acknowledged")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Fired alerts, newest first, each with its figures and the state of its deliveries."""
    moment = None
    if since is not None:
        try:
            day_or_time = dt.datetime.combine(parse_day(since), dt.time()) if len(since) == 10 else None
            moment = day_or_time or parse_instant(since).replace(tzinfo=None)
        except ValueError as exc:
            raise _invalid("since", f"a date or RFC 3339 time ({WINDOW}): {exc}") from None
    alerts = ledger.alerts.history(since=moment, kind=kind, unacked=unacked, limit=limit)
    return {"alerts": [a.as_dict() for a in alerts]}


@router.get("/v1/budget/check", responses=errors(401, 403, 422))
def budget_check(
    ledger: LedgerDep,
    _key: IngestKey,
    user_id: Annotated[str | None, Query()] = None,
    session_id: Annotated[str | None, Query()] = None,
    tier: Annotated[str | None, Query()] = None,
    estimate_usd: Annotated[str, Query(description="what the caller is about to spend, e.g. 0.25")] = "0",
) -> dict[str, Any]:
    """`allowed`, with the tightest budget that applies: its limit, the spend, what is held reserved, what is left."""
    try:
        check = ledger.budgets.check(estimate_usd, user_id=user_id, tier=tier, session_id=session_id)
    except ValueError as exc:
        raise _invalid("estimate_usd", str(exc).split(": ", 1)[-1]) from None
    result: dict[str, Any] = check.as_dict()
    return result
