"""GET /v1/costs (totals grouped by any dimensions) and GET /v1/costs/daily (the daily trend)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from .. import clock
from ..money import usd
from ..store import queries
from .deps import AdminKey, LedgerDep
from .filters import FiltersDep
from .schemas import CostRow, CostsOut, DailyOut, DayRow, errors
from .validation import clean_query

router = APIRouter(tags=["costs"], dependencies=[Depends(clean_query)])


def _group_by(values: list[str]) -> list[str]:
    groups = [g.strip() for v in values for g in v.split(",") if g.strip()]
    for name in groups:
        if name not in queries.GROUPS:
            raise RequestValidationError(
                [{"loc": ("query", "group_by"), "type": "value_error",
                  "msg": f"cannot group by {name!r}; choose from {', '.join(queries.GROUPS)}"}]
            )  # fmt: skip
    if len(set(groups)) != len(groups):
        raise RequestValidationError([{"loc": ("query", "group_by"), "msg": "a dimension is named twice",
                                       "type": "value_error"}])  # fmt: skip
    return groups


@router.get(
    "/v1/costs",
    response_model=CostsOut,
    summary="Totals grouped by any dimensions",
    description="Cost, events and unpriced events grouped by any of "
    f"{', '.join(queries.GROUPS)} (comma-separated or repeated), most expensive first "
    "(time groups in time order). Filters: a UTC date range, one value per dimension, tags as key=value.",
    responses=errors(401, 403, 422),
    operation_id="getCosts",
)
def get_costs(
    ledger: LedgerDep,
    _key: AdminKey,
    filters: FiltersDep,
    group_by: Annotated[
        list[str] | None, Query(description="dimensions to group by", examples=["service,user"])
    ] = None,
) -> CostsOut:
    groups = _group_by(group_by or ["service"])
    rows = ledger.report(groups, since=filters.since, until=filters.until, tags=filters.tags, **filters.dims)
    return CostsOut(
        group_by=groups,
        since=filters.since.isoformat() if filters.since else None,
        until=filters.until.isoformat() if filters.until else None,
        events=sum(r.events for r in rows),
        unpriced=sum(r.unpriced for r in rows),
        cost_usd=usd(sum((r.cost_usd for r in rows), start=Decimal(0))),
        rows=[CostRow(group=r.group, events=r.events, unpriced=r.unpriced, cost_usd=usd(r.cost_usd)) for r in rows],
    )


@router.get(
    "/v1/costs/daily",
    response_model=DailyOut,
    summary="The daily trend",
    description="One row per UTC day of the last `days` days (today included), oldest first; "
    "days without events are zeros. The same filters as /v1/costs (since/until are ignored: the window is `days`).",
    responses=errors(401, 403, 422),
)
def get_daily(
    ledger: LedgerDep,
    _key: AdminKey,
    filters: FiltersDep,
    days: Annotated[int, Query(ge=1, le=366, description="how many days, today included")] = 30,
) -> DailyOut:
    today = clock.today()
    rows = ledger.daily_trend(days, today=today, tags=filters.tags, **filters.dims)
    return DailyOut(
        days=days,
        since=(today - dt.timedelta(days=days - 1)).isoformat(),
        until=today.isoformat(),
        cost_usd=usd(sum((r.cost_usd for r in rows), start=Decimal(0))),
        rows=[
            DayRow(day=str(r.group["day"]), events=r.events, unpriced=r.unpriced, cost_usd=usd(r.cost_usd))
            for r in rows
        ],
    )
