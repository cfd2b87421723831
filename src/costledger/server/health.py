"""GET /healthz (the database answers) and GET /metrics (Prometheus): the only routes without a key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ..ledger import Ledger
from .deps import LedgerDep, authenticate, bearer
from .metrics import exposition
from .schemas import HealthOut, errors

router = APIRouter(tags=["health"])


def _database_answers(ledger: Ledger) -> bool:
    try:
        with ledger.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the reason stays in the server
        return False
    return True


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the database answers",
            responses=errors(503))  # fmt: skip
async def healthz(ledger: LedgerDep) -> HealthOut | JSONResponse:
    if not await run_in_threadpool(_database_answers, ledger):
        return JSONResponse({"detail": "the database does not answer", "errors": []}, 503)
    return HealthOut(status="ok", database=ledger.store.dialect)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Needs an admin key, unless the server's `[server] metrics_public = true` "
    "(or `COSTLEDGER_METRICS_PUBLIC=1`). Labels are bounded: past the first 50 services a process sees, "
    "the rest count as `other`.",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"},
        **errors(401, 403),
    },
)
def metrics(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
    # Cost per service is not for anyone who can reach the port: an admin key, unless configured public.
    if not request.app.state.limits.metrics_public:
        authenticate(request, credentials, "admin")
    body, content_type = exposition()
    return Response(body, media_type=content_type)
