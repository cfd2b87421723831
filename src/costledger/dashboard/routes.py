"""The dashboard's routes: login, pages, CSV exports and its static files. Thin: each
page is built by `pages` / `config_pages` / `alerts_margins` and rendered by a template.
"""

from __future__ import annotations

import datetime as dt
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .. import clock
from ..ledger import Ledger
from ..server.filters import SinceDay, UntilDay
from ..server.validation import clean_query
from ..store import Filters, queries
from ..store.periods import period_breakdowns
from . import auth
from .alerts_margins import acknowledge, alerts_page, margins_page, open_alert_count
from .config_pages import prices_page, session_types_page
from .pages import DEFAULT_DAYS, Page, overview_page, session_page, sessions_page, spenders_page, window

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Filters with NUL or a lone surrogate are refused before PostgreSQL sees them (server/validation.py).
router = APIRouter(include_in_schema=False, dependencies=[Depends(clean_query)])

NAV = [
    ("/", "Overview"), ("/sessions", "Sessions"), ("/users", "Users"), ("/agents", "Agents"),
    ("/prices", "Services & prices"), ("/session-types", "Session types"), ("/alerts", "Alerts"),
    ("/margins", "Margins"),
]  # fmt: skip
FILTER_NAMES = ("tier", "mode", "agent", "service", "user")
_COLUMN = {"user": "user_id"}
_OPTIONS_TTL = 60.0


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _today() -> dt.date:
    return clock.today()


def require_login(request: Request) -> auth.Login:
    """The signed-in admin; anyone else is sent to the login page (303)."""
    login = auth.check_cookie(_ledger(request).store, request.cookies.get(auth.COOKIE))
    if login is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", headers={"Location": "/login?" + urlencode({"next": target})})
    return login


LoginDep = Annotated[auth.Login, Depends(require_login)]
MAX_RANGE_DAYS = 1096


def page_filters(
    since: SinceDay = None,
    until: UntilDay = None,
    tier: Annotated[str | None, Query(max_length=256)] = None,
    mode: Annotated[str | None, Query(max_length=256)] = None,
    agent: Annotated[str | None, Query(max_length=256)] = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    user: Annotated[str | None, Query(max_length=256)] = None,
) -> Filters:
    values = {"tier": tier, "mode": mode, "agent": agent, "service": service, "user": user}
    dims = {_COLUMN.get(k, k): v for k, v in values.items() if v}
    if since and until and since > until:
        since, until = until, since
    if since and ((until or _today()) - since).days >= MAX_RANGE_DAYS:
        # A trend of a day per column: a century of them was 12 MB of page and seconds of work.
        message = f"a range of at most {MAX_RANGE_DAYS:,} days (three years)"
        raise RequestValidationError([{"loc": ("query", "since"), "type": "value_error", "msg": message}])
    return Filters(since=since, until=until, dims=dims)


FiltersDep = Annotated[Filters, Depends(page_filters)]


def _options(request: Request) -> dict[str, list[str]]:
    """The values each filter offers: those of the months the default range covers, read from
    the per-month period totals (one row per value, however many events). Cached a minute."""
    state = request.app.state
    cached = getattr(state, "dashboard_options", None)
    if cached is not None and time.monotonic() - cached[0] < _OPTIONS_TTL:
        options: dict[str, list[str]] = cached[1]
        return options
    today = _today()
    start = today - dt.timedelta(days=DEFAULT_DAYS - 1)
    months = sorted({(start + dt.timedelta(days=n)).isoformat()[:7] for n in range(DEFAULT_DAYS)})
    found: dict[str, set[str]] = {name: set() for name in FILTER_NAMES}
    with _ledger(request).store.engine.connect() as connection:
        for month in months:
            parts = period_breakdowns(connection, month, {_COLUMN.get(name, name): None for name in FILTER_NAMES})
            for name in FILTER_NAMES:
                column = _COLUMN.get(name, name)
                found[name].update(str(t.group[column]) for t in parts[column] if t.group[column])
    options = {name: sorted(values)[:500] for name, values in found.items()}
    state.dashboard_options = (time.monotonic(), options)
    return options


def _render(request: Request, login: auth.Login, page: Page, active: str, filters: Filters | None,
            template: str = "page.html", **context: Any) -> Response:  # fmt: skip
    wanted = request.query_params.get("csv")
    if wanted is not None:
        table = page.table(wanted)
        if table is None:
            raise HTTPException(404, f"this page has no table {wanted!r}")
        filename = f"costledger-{active.strip('/').replace('/', '-') or 'overview'}-{table.name}.csv"
        return Response(table.csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "csv"]

    def with_params(**changes: Any) -> str:
        kept = [(k, v) for k, v in params if k not in changes]
        kept += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
        return request.url.path + ("?" + urlencode(kept) if kept else "")

    shown = None
    if filters is not None:
        ranged = window(filters, _today())
        shown = {"since": ranged.since, "until": ranged.until,
                 **{k: filters.dims.get(_COLUMN.get(k, k), "") for k in FILTER_NAMES}}  # fmt: skip
    return templates.TemplateResponse(
        request,
        template,
        {"page": page, "nav": NAV, "active": active, "filters": shown, "options": _options(request) if shown else {},
         "csrf": login.csrf_token, "with_params": with_params, **context},
    )  # fmt: skip


# -- login --------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_login_csrf()
    response = templates.TemplateResponse(
        request, "login.html", {"next": auth.safe_next(next), "csrf": token, "error": error},
        status_code=401 if error else 200,
    )  # fmt: skip
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=3600)  # fmt: skip
    return response


@router.post("/login")
def log_in(
    request: Request,
    key: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not auth.login_csrf_ok(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf):
        return login_form(request, next, "The form expired; please try again.")
    found = auth.log_in(request.app.state.keys, key)
    if found is None:
        return login_form(request, next, "That is not an active admin key.")
    _, cookie = found
    response = RedirectResponse(auth.safe_next(next), status_code=303)
    response.set_cookie(auth.COOKIE, cookie, max_age=auth.LIFETIME_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")  # fmt: skip
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def log_out(request: Request, login: LoginDep, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    if not auth.csrf_ok(login, csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    auth.log_out(_ledger(request).store, login)  # server-side: a copy of the cookie stops working too
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


# -- pages --------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    ledger = _ledger(request)
    page = overview_page(ledger, filters, _today(), open_alert_count(ledger))
    return _render(request, login, page, "/", filters)


@router.get("/sessions", response_class=HTMLResponse)
def sessions(
    request: Request,
    login: LoginDep,
    filters: FiltersDep,
    sort: Annotated[str, Query(pattern="^(" + "|".join(queries.SESSION_SORTS) + ")$")] = "started_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    built = sessions_page(_ledger(request), filters, _today(), sort, order == "desc", page)
    return _render(request, login, built, "/sessions", filters, "sessions.html", sort=sort, order=order,
                   sorts=queries.SESSION_SORTS)  # fmt: skip


@router.get("/sessions/{session_id:path}", response_class=HTMLResponse)
def session(request: Request, login: LoginDep, session_id: str) -> Response:
    built = session_page(_ledger(request), session_id)
    if built is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return _render(request, login, built, "/sessions", None)


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    return _render(request, login, spenders_page(_ledger(request), filters, _today(), "user"), "/users", filters)


@router.get("/agents", response_class=HTMLResponse)
def agents(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    return _render(request, login, spenders_page(_ledger(request), filters, _today(), "agent"), "/agents", filters)


@router.get("/prices", response_class=HTMLResponse)
def prices(request: Request, login: LoginDep, service: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    return _render(request, login, prices_page(_ledger(request), _today(), service or None), "/prices", None)


@router.get("/session-types", response_class=HTMLResponse)
def session_types(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    page = session_types_page(_ledger(request), filters, _today())
    return _render(request, login, page, "/session-types", filters)


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, login: LoginDep) -> Response:
    return _render(request, login, alerts_page(_ledger(request)), "/alerts", None, "alerts.html")


@router.post("/alerts/ack")
def alerts_ack(
    request: Request,
    login: LoginDep,
    csrf: Annotated[str, Form(max_length=256)] = "",
    alert_id: Annotated[list[int] | None, Form()] = None,
) -> Response:
    if not auth.csrf_ok(login, csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    acknowledge(_ledger(request), alert_id or [], f"dashboard (key {login.key_id})")
    return RedirectResponse("/alerts", status_code=303)


@router.get("/margins", response_class=HTMLResponse)
def margins(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    ranged = window(filters, _today())
    assert ranged.since is not None and ranged.until is not None
    page = margins_page(_ledger(request), ranged.since, ranged.until)
    return _render(request, login, page, "/margins", filters)


# -- static files -------------------------------------------------------------------------------

_STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}


@router.get("/assets/plotly.min.js")
def plotly_js() -> FileResponse:
    # Served from the installed plotly package: no CDN, works offline, never copied into our tree.
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/assets/{name}")
def asset(name: str) -> FileResponse:
    if name not in _STATIC:
        raise HTTPException(404, "no such file")
    return FileResponse(HERE / "static" / name, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})
