"""The FastAPI application around one Ledger.

Routers live one per idea in their own modules and are listed in ROUTERS, so a
feature adds its routes with one line here (each module exposes `router`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from ..config import Config
from ..dashboard import errors as pages
from ..errors import ConfigError, InvalidEvent
from ..keys import KeyVerifier, ensure_admin_key
from ..ledger import Ledger
from ..limits import from_environment
from ..store.outage import RETRY_AFTER_SECONDS, outage
from . import web_headers
from .cardinality import Cardinality
from .metrics import LatencyMiddleware, remember_written
from .metrics import configure as configure_metrics

log = logging.getLogger("costledger.server")

ROUTERS = [
    "costledger.server.health",
    "costledger.server.events",
    "costledger.server.costs",
    "costledger.server.sessions",
    "costledger.server.prices",
    "costledger.server.alerts",
    "costledger.server.traces",
    "costledger.server.margins",
    "costledger.server.webhooks_stripe",
    "costledger.server.webhooks_twilio",
    "costledger.dashboard.routes",
]

DESCRIPTION = """\
Record AI-agent usage events, priced exactly from an effective-dated catalog, and read
what every session, user, agent, service and plan costs.

Every route but `/healthz`, `/metrics` and the webhooks (signed by Stripe and Twilio)
needs `Authorization: Bearer <key>` (`costledger keys create --scope ingest|admin --name NAME`).
`ingest` keys write events; `admin` keys do everything. Money is a decimal string.
"""


def create_app(database: str | None = None, *, config: Config | str | None = None) -> FastAPI:
    """The app for `database` (a SQLite path or postgresql:// URL; default $COSTLEDGER_DATABASE_URL…).

    Called with no arguments by each uvicorn worker (`factory=True`), it reads the
    environment `costledger serve` set up.
    """
    if config is None:
        config = os.environ.get("COSTLEDGER_CONFIG") or None
    ledger = Ledger(database, config=config)
    ledger.store.on_write.append(remember_written)
    try:
        ensure_admin_key(ledger.store)
    except (SQLAlchemyError, OSError) as exc:
        if outage(exc) is None:
            raise
        # The keys already stored still work; a write would answer 503 anyway until the storage recovers.
        log.warning("could not store $COSTLEDGER_ADMIN_KEY: the storage cannot write (%s)", outage(exc))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ledger.close()

    app = FastAPI(title="costledger", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.ledger = ledger
    app.state.limits = limits = from_environment(ledger.config.server)
    app.state.cardinality = Cardinality(ledger.store, limits)
    configure_metrics(limits)
    app.state.keys = KeyVerifier(ledger.store)
    app.state.key_sources = []
    for name in ROUTERS:
        app.include_router(import_module(name).router)
    _error_handlers(app)
    web_headers.install(app)
    app.add_middleware(LatencyMiddleware)
    return app


def _error_handlers(app: FastAPI) -> None:
    # Every error is {"detail": "...", "errors": [...]}: never a stack trace or SQL.

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code >= 400 and pages.wants_page(request):
            return pages.error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": str(exc.detail), "errors": []}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors: list[dict[str, Any]] = [
            {
                "index": None,
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message": str(err.get("msg")).removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        if pages.wants_page(request):
            return pages.error_page(request, 422, "Something in the address is not valid.", errors)
        return JSONResponse({"detail": "invalid request", "errors": errors}, 422)

    @app.exception_handler(InvalidEvent)
    async def event_invalid(_request: Request, exc: InvalidEvent) -> JSONResponse:
        return JSONResponse({"detail": "invalid batch: nothing was stored", "errors": exc.as_dicts()}, 422)

    @app.exception_handler(ConfigError)
    async def config_invalid(_request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "errors": []}, 422)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def storage_error(request: Request, exc: Exception) -> Response:
        why = outage(exc)
        if why is None:
            return await unexpected(request, exc)
        # Not the request's fault, and passing: one line in the log, and a reason the client can log.
        log.warning("%s %s: the storage cannot answer (%s): %s", request.method, request.url.path, why, exc)
        return JSONResponse({"detail": f"the storage is unavailable: {why}; retry later", "errors": []}, 503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        # The client hung up (or was cut at a timeout) before its body arrived: nothing was stored, nobody is
        # listening, and it is no server error. 499 is what the metrics count it as (nginx's "client closed").
        log.info("%s %s: the client disconnected before sending its body", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        if pages.wants_page(request):
            return pages.error_page(request, 500, "Internal error; see the server log.")
        return JSONResponse({"detail": "internal error; see the server log", "errors": []}, 500)
