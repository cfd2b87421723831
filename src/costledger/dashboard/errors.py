"""Errors on dashboard pages as pages: the status, what went wrong (which field), and the nav.

The API's routes keep their JSON errors; any other path a browser asks for (a page, a missing
page, a bad filter) gets this page instead of raw JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from . import auth

API_PATHS = ("/v1/", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc")


def wants_page(request: Request) -> bool:
    """Is this a dashboard path (not the API, health or metrics)?"""
    return not request.url.path.startswith(API_PATHS)


def error_page(request: Request, status: int, detail: str, errors: Sequence[dict[str, Any]] = ()) -> HTMLResponse:
    from .routes import NAV, templates

    login = auth.check_cookie(request.app.state.ledger.store, request.cookies.get(auth.COOKIE))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    if status == 404 and detail == reason:
        detail = f"There is no page at {request.url.path}."
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "reason": reason, "detail": detail, "errors": list(errors), "nav": NAV if login else [],
         "active": "", "csrf": login.csrf_token if login else ""},
        status_code=status,
    )  # fmt: skip


__all__ = ["error_page", "wants_page"]
