"""GET /v1/prices: the catalog in force, as `costledger prices --json` prints it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from .. import clock
from ..dates import WINDOW
from ..pricing.entries import describe
from .deps import AdminKey, LedgerDep
from .filters import Moment
from .schemas import PriceDataOut, PriceOut, PricesOut, errors
from .validation import clean_query

router = APIRouter(tags=["prices"], dependencies=[Depends(clean_query)])


@router.get(
    "/v1/prices",
    response_model=PricesOut,
    summary="The catalog in force",
    description="Every price in force at `at` (default now) with its source, effective date, billing "
    "granularity and confidence, and where the genai-prices data came from; `service` (repeatable) keeps "
    "only those services.",
    responses=errors(401, 403, 422),
)
def get_prices(
    ledger: LedgerDep,
    _key: AdminKey,
    service: Annotated[list[str] | None, Query(examples=["deepgram"])] = None,
    at: Annotated[
        dt.datetime | None, Moment, Query(description=f"RFC 3339 time or date ({WINDOW}); default now")
    ] = None,
) -> PricesOut:
    moment = at or clock.now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    info = ledger.catalog.data_info()
    return PricesOut(
        at=moment.isoformat(),
        data=PriceDataOut(**info) if info else None,
        prices=[PriceOut(**describe(e)) for e in ledger.catalog.in_force(moment, service or None)],
    )
