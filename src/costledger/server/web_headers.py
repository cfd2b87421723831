"""Headers every response carries, and compression.

- A Content-Security-Policy that allows scripts from this server only (no inline script, no
  eval), no framing (`frame-ancestors 'none'`), forms posting only here; styles may be inline
  because the charting library sets them on what it draws.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, `X-Frame-Options: DENY`.
- `Cache-Control: no-store` on pages and exports (HTML and CSV): what a ledger shows is not
  for a shared cache or the back button of someone else's browser. Static files set their own.
- gzip for anything that asks for it (`Accept-Encoding`), from 1 KB up; static files arrive
  compressed already and pass through.

FastAPI's /docs and /redoc pages load their own script; they get every header but the CSP.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
NO_STORE_TYPES = ("text/html", "text/csv")
OWN_SCRIPT_PAGES = ("/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI, so streamed responses (CSV exports) stream on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own_script = str(scope.get("path", "")).startswith(OWN_SCRIPT_PAGES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not own_script:
                    headers.setdefault("Content-Security-Policy", CSP)
                if headers.get("content-type", "").startswith(NO_STORE_TYPES):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: Starlette) -> None:
    """Compression inside, the headers outside it (so compressed responses carry them too)."""
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    app.add_middleware(SecurityHeaders)


__all__ = ["CSP", "SecurityHeaders", "install"]
