"""GET /v1/margins (margin per plan, per user, at limit) and GET /v1/recommendations (advice with figures)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from ..dates import WINDOW
from ..margins import recommendations_json, report_for
from .deps import AdminKey, LedgerDep
from .filters import Month as MonthText
from .filters import SinceDay, UntilDay
from .schemas import errors
from .validation import clean_query

router = APIRouter(tags=["margins"], dependencies=[Depends(clean_query)])

Month = Annotated[
    str | None, MonthText, Query(pattern=r"^\d{4}-\d{2}$", description=f"one month, e.g. 2026-11 ({WINDOW})")
]


def _period(since: dt.date | None, until: dt.date | None) -> None:
    if since and until and since > until:
        raise HTTPException(422, f"since ({since}) is after until ({until})")


@router.get(
    "/v1/margins",
    summary="Revenue, payment fees, cost and margin per plan and per user; margin at each plan's limit",
    description="Per month: revenue from payment events (refunds negative), Stripe fees, API cost, extra cost "
    "per session type, fixed costs allocated over the month's sessions, and the margin, per plan and per user. "
    "`at_limit`: each plan's margin if a subscriber used the whole quota at the p50 / p90 session cost. "
    "Money is a decimal string, exact. Default: every month with data.",
    responses=errors(401, 403, 422),
)
def get_margins(
    ledger: LedgerDep, _key: AdminKey, month: Month = None, since: SinceDay = None, until: UntilDay = None
) -> dict[str, Any]:
    _period(since, until)
    try:
        return report_for(ledger, month, since, until).as_dict()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get(
    "/v1/recommendations",
    summary="Advice with figures: model swaps, prompt caching, heavy users, unpriced usage",
    description="Each item has its saving in USD per month (null when it cannot be priced) and the assumptions "
    "behind it. Default period: the last 30 days that hold data.",
    responses=errors(401, 403, 422),
)
def get_recommendations(
    ledger: LedgerDep, _key: AdminKey, since: SinceDay = None, until: UntilDay = None
) -> dict[str, Any]:
    _period(since, until)
    try:
        return recommendations_json(ledger, since, until)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
