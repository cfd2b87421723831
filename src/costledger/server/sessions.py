"""GET /v1/sessions (sorted, filtered, paged) and GET /v1/sessions/{id} (summary, breakdown, events)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from ..money import usd
from ..store import SessionSummary
from ..store.queries import SESSION_SORTS
from .deps import AdminKey, LedgerDep
from .filters import FiltersDep
from .schemas import EventOut, SessionDetailOut, SessionOut, SessionsOut, errors, links
from .validation import clean_query

router = APIRouter(tags=["sessions"], dependencies=[Depends(clean_query)])


def session_out(summary: SessionSummary) -> SessionOut:
    return SessionOut(
        session_id=summary.session_id,
        user_id=summary.user_id,
        tier=summary.tier,
        mode=summary.mode,
        started_at=summary.started_at.isoformat(),
        ended_at=summary.ended_at.isoformat(),
        duration_seconds=summary.duration_seconds,
        events=summary.events,
        unpriced=summary.unpriced,
        cost_usd=usd(summary.cost_usd),
        by_service={k: usd(v) for k, v in summary.by_service.items()},
        by_agent={k: usd(v) for k, v in summary.by_agent.items()},
    )


def event_out(row: dict[str, Any]) -> EventOut:
    cost: Decimal | None = row["cost_usd"]
    return EventOut(
        event_id=row["event_id"],
        ts=row["ts"].isoformat(),
        service=row["service"],
        model=row["model"],
        operation=row["operation"],
        agent=row["agent"],
        usage={k: (usd(v) if isinstance(v, Decimal) else v) for k, v in row["usage"].items()},
        cost_usd=usd(cost) if cost is not None else None,
        cost_source=row["cost_source"],
        price_ref=row["price_ref"],
        unpriced_reason=row["unpriced_reason"],
        tags=row["tags"],
    )


@router.get(
    "/v1/sessions",
    response_model=SessionsOut,
    summary="Sessions with cost and a per-service breakdown",
    description=f"Sorted by one of {', '.join(SESSION_SORTS)}; since/until select the UTC day a session "
    "started; the other filters keep sessions with at least one matching event.",
    responses={
        **errors(401, 403, 422),
        **links(session=("getSession", {"session_id": "$response.body#/sessions/0/session_id"})),
    },
)
def get_sessions(
    ledger: LedgerDep,
    _key: AdminKey,
    filters: FiltersDep,
    sort: Annotated[str, Query(description=f"one of {', '.join(SESSION_SORTS)}")] = "started_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="asc or desc")] = "desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    min_cost: Annotated[Decimal | None, Query(ge=0, le=10**15, description="USD, inclusive", examples=["0.5"])] = None,
    max_cost: Annotated[Decimal | None, Query(ge=0, le=10**15, description="USD, inclusive")] = None,
) -> SessionsOut:
    if sort not in SESSION_SORTS:
        raise HTTPException(422, f"cannot sort sessions by {sort!r}; choose from {', '.join(SESSION_SORTS)}")
    found, total = ledger.sessions(
        sort=sort, descending=order == "desc", limit=limit, offset=offset, since=filters.since, until=filters.until,
        min_cost=min_cost, max_cost=max_cost, tags=filters.tags, **filters.dims,
    )  # fmt: skip
    return SessionsOut(total=total, limit=limit, offset=offset, sessions=[session_out(s) for s in found])


@router.get(
    "/v1/sessions/{session_id}",
    response_model=SessionDetailOut,
    summary="One session: summary, breakdown and events",
    responses=errors(401, 403, 404, 422),
    operation_id="getSession",
)
def get_session(
    ledger: LedgerDep, _key: AdminKey, session_id: Annotated[str, Path(max_length=256)]
) -> SessionDetailOut:
    summary = ledger.session_summary(session_id)
    if summary is None:
        raise HTTPException(404, f"no session {session_id!r}")
    rows = ledger.session_events(session_id)
    return SessionDetailOut(session=session_out(summary), events=[event_out(r) for r in rows])
