"""GET /v1/prices: the catalog in force, as `costledger prices --json` prints it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ..cli.pricing import describe
from ..errors import UnknownPrice
from ..ledger import Ledger
from ..pricing.catalog import MAIN_LLM_SERVICES
from ..pricing.entries import PriceEntry
from .deps import AdminKey, LedgerDep
from .schemas import PriceOut, PricesOut, errors
from .validation import clean_query

log = logging.getLogger("costledger.server")

router = APIRouter(tags=["prices"], dependencies=[Depends(clean_query)])


@router.get(
    "/v1/prices",
    response_model=PricesOut,
    summary="The catalog in force",
    description="Every price in force at `at` (default now) with its source and effective date; "
    "`service` (repeatable) keeps only those services.",
    responses=errors(401, 403, 422),
)
def get_prices(
    ledger: LedgerDep,
    _key: AdminKey,
    service: Annotated[list[str] | None, Query(examples=["deepgram"])] = None,
    at: Annotated[dt.datetime | None, Query(description="RFC 3339 time or date; default now")] = None,
) -> PricesOut:
    moment = at or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return PricesOut(at=moment.isoformat(), prices=[PriceOut(**describe(e)) for e in in_force(ledger, moment, service)])


def in_force(ledger: Ledger, moment: dt.datetime, services: list[str] | None) -> list[PriceEntry]:
    try:
        return ledger.catalog.in_force(moment, services or None)
    except UnknownPrice as exc:
        # One model the catalog lists but cannot resolve must not hide every other price:
        # answer service by service and leave out the services that fail.
        log.warning("the catalog could not list every price in force: %s", exc)
    wanted = services or sorted({e.service for e in ledger.catalog.entries} | set(MAIN_LLM_SERVICES))
    out: list[PriceEntry] = []
    for name in wanted:
        try:
            out.extend(ledger.catalog.in_force(moment, [name]))
        except UnknownPrice as exc:
            log.warning("prices of %s left out: %s", name, exc)
    return out
