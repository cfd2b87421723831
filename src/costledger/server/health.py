"""GET /healthz (the database answers) and GET /metrics (Prometheus): the only routes without a key."""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ..ledger import Ledger
from ..store.outage import RETRY_AFTER_SECONDS, outage
from .deps import LedgerDep, authenticate, bearer
from .metrics import exposition
from .schemas import HealthOut, errors

log = logging.getLogger("costledger.server")
router = APIRouter(tags=["health"])


class _Probe:
    """The storage's health, found out at most every PROBE_SECONDS per worker: /healthz needs no key, and
    each answer must not be a write."""

    PROBE_SECONDS = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -1e9
        self._problem: str | None = None

    def problem(self, ledger: Ledger) -> str | None:
        with self._lock:
            if time.monotonic() - self._at >= self.PROBE_SECONDS:
                self._problem = _storage_problem(ledger)
                self._at = time.monotonic()
            return self._problem


def _storage_problem(ledger: Ledger) -> str | None:
    """None when the database answers and takes a write; else why not, as a client can log it."""
    try:
        with ledger.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"the database does not answer: {outage(exc) or exc.__class__.__name__}"
    try:
        ledger.store.probe_write()
    except Exception as exc:
        why = outage(exc)
        if why == "the database stayed locked by another writer":
            return None  # busy writing events is not unhealthy
        log.warning("healthz: the storage cannot write (%s)", exc)
        return f"the storage cannot write: {why or exc.__class__.__name__}"
    return None


_PROBE = _Probe()


@router.get("/healthz", response_model=HealthOut, summary="The database answers and can write",
            description="503 with Retry-After and the reason when the database does not answer or cannot write "
            "(a full disk, PostgreSQL down). Probed at most every 2 s per worker.",
            responses=errors(503))  # fmt: skip
async def healthz(ledger: LedgerDep) -> HealthOut | JSONResponse:
    problem = await run_in_threadpool(_PROBE.problem, ledger)
    if problem is not None:
        return JSONResponse({"detail": problem, "errors": []}, 503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
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
