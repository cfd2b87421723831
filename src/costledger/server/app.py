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
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..config import Config
from ..errors import ConfigError, InvalidEvent
from ..keys import KeyVerifier, ensure_admin_key
from ..ledger import Ledger
from .metrics import LatencyMiddleware, remember_written

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
    ensure_admin_key(ledger.store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ledger.close()

    app = FastAPI(title="costledger", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.ledger = ledger
    app.state.keys = KeyVerifier(ledger.store)
    app.state.key_sources = []
    for name in ROUTERS:
        app.include_router(import_module(name).router)
    _error_handlers(app)
    app.add_middleware(LatencyMiddleware)
    return app


def _error_handlers(app: FastAPI) -> None:
    # Every error is {"detail": "...", "errors": [...]}: never a stack trace or SQL.

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail), "errors": []}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = [
            {"index": None, "field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg"))}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": errors}, 422)

    @app.exception_handler(InvalidEvent)
    async def event_invalid(_request: Request, exc: InvalidEvent) -> JSONResponse:
        return JSONResponse({"detail": "invalid batch: nothing was stored", "errors": exc.as_dicts()}, 422)

    @app.exception_handler(ConfigError)
    async def config_invalid(_request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "errors": []}, 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the server log", "errors": []}, 500)
