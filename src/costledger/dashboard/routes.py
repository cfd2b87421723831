"""The dashboard's HTTP layer: login, one route per page, CSV exports, the search box, static files.

Thin: each page is built by its module from the library; this reads the query (range,
filters, sort, page), renders the template, or streams the CSV of every matching row.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from .. import clock
from ..ledger import Ledger
from ..server.filters import SinceDay, UntilDay
from ..server.validation import clean_query
from ..store import Filters
from ..store.periods import period_breakdowns
from ..total_cost import previous_period
from . import assets, auth
from .alerts_page import acknowledge, alerts_page, open_alert_count
from .config_pages import PRICE_SORTS, prices_page, session_types_page
from .margins_page import MARGIN_DAYS, USER_SORTS, margins_page
from .overview import overview_page, overview_table
from .pages import DEFAULT_DAYS, Page, bounds, presets, span, window
from .sessions_pages import SORTS, search, search_page, session_page, sessions_page
from .spenders import AGENT_COLUMNS, USER_COLUMNS, agents_page, agents_table, users_page
from .tables import Table

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["asset"] = assets.url
# Filters with NUL or a lone surrogate are refused before PostgreSQL sees them (server/validation.py).
router = APIRouter(include_in_schema=False, dependencies=[Depends(clean_query)])

NAV = [
    ("/", "Overview"), ("/sessions", "Sessions"), ("/users", "Users"), ("/agents", "Agents"),
    ("/margins", "Margins"), ("/alerts", "Alerts"), ("/prices", "Services & prices"),
    ("/session-types", "Session types"),
]  # fmt: skip
FILTER_NAMES = ("tier", "mode", "agent", "service", "user")
_COLUMN = {"user": "user_id"}
_OPTIONS_TTL = 60.0
CSV_BATCH = 500
Order = Annotated[str, Query(pattern="^(asc|desc)$")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def _pattern(keys: Sequence[str]) -> str:
    return "^(" + "|".join(keys) + ")$"


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
    unpriced: Annotated[bool, Query()] = False,
) -> Filters:
    values = {"tier": tier, "mode": mode, "agent": agent, "service": service, "user": user}
    dims = {_COLUMN.get(k, k): v for k, v in values.items() if v}
    if since and until and since > until:
        since, until = until, since
    if since and ((until or _today()) - since).days >= MAX_RANGE_DAYS:
        # A trend of a day per column: a century of them was 12 MB of page and seconds of work.
        message = f"a range of at most {MAX_RANGE_DAYS:,} days (three years)"
        raise RequestValidationError([{"loc": ("query", "since"), "type": "value_error", "msg": message}])
    return Filters(since=since, until=until, dims=dims, unpriced=unpriced)


FiltersDep = Annotated[Filters, Depends(page_filters)]


def _events_filters(filters: Filters) -> Filters:
    """ "Has unpriced events" selects sessions: the pages of totals (overview, users, agents) do not offer it."""
    return replace(filters, unpriced=False)


def _options(request: Request) -> dict[str, list[str]]:
    """The values each filter offers: those of the last DEFAULT_DAYS' months, read from the per-month
    period totals (one row per value, however many events), and the configured plans. Cached a minute."""
    state = request.app.state
    cached = getattr(state, "dashboard_options", None)
    if cached is not None and time.monotonic() - cached[0] < _OPTIONS_TTL:
        options: dict[str, list[str]] = cached[1]
        return options
    today = _today()
    start = today - dt.timedelta(days=max(DEFAULT_DAYS, MARGIN_DAYS) - 1)
    months = sorted({(start + dt.timedelta(days=n)).isoformat()[:7] for n in range((today - start).days + 1)})
    found: dict[str, set[str]] = {name: set() for name in FILTER_NAMES}
    with _ledger(request).store.engine.connect() as connection:
        for month in months:
            parts = period_breakdowns(connection, month, {_COLUMN.get(name, name): None for name in FILTER_NAMES})
            for name in FILTER_NAMES:
                column = _COLUMN.get(name, name)
                found[name].update(str(t.group[column]) for t in parts[column] if t.group[column])
    options = {name: sorted(values)[:500] for name, values in found.items()}
    options["plan"] = [p.name for p in _ledger(request).config.plans]
    state.dashboard_options = (time.monotonic(), options)
    return options


def _batched(lines: Iterator[str], size: int = CSV_BATCH) -> Iterator[str]:
    """Lines joined a few hundred at a time: each chunk of a streamed response is a hop to a thread."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _csv(table: Table | None, active: str, wanted: str) -> Response:
    if table is None:
        raise HTTPException(404, f"this page has no table {wanted!r}")
    filename = f"costledger-{active.strip('/').replace('/', '-') or 'overview'}-{table.name}.csv"
    return StreamingResponse(_batched(table.csv_lines()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


def _render(
    request: Request,
    login: auth.Login | None,
    page: Page,
    active: str,
    filters: Filters | None = None,
    names: Sequence[str] = FILTER_NAMES,
    *,
    unpriced: bool | None = None,
    days: int = DEFAULT_DAYS,
    compare: bool = True,
    status: int = 200,
) -> Response:
    wanted = request.query_params.get("csv")
    if wanted is not None:
        return _csv(page.table(wanted), active, wanted)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "csv"]

    def with_params(**changes: Any) -> str:
        kept = [(k, v) for k, v in params if k not in changes]
        kept += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
        return request.url.path + ("?" + urlencode(kept) if kept else "")

    shown: dict[str, Any] | None = None
    choices: list[dict[str, Any]] = []
    if filters is not None:
        since, until = bounds(window(filters, _today(), days))
        first, last = previous_period(since, until)
        shown = {"since": since, "until": until, "unpriced": unpriced,
                 "said": span(since, until) + (f", compared with the {(until - since).days + 1} days before "
                                               f"({span(first, last)})" if compare else ""),
                 "keep": [(k, v) for k, v in params if k in ("sort", "order")],
                 "chosen": [k for k in names if request.query_params.get(k)] + (["unpriced"] if unpriced else []),
                 **{k: request.query_params.get(k, "") for k in names}}  # fmt: skip
        dims = [(k, v) for k, v in params if k in names or k == "unpriced"]
        for p in presets(_today()):
            query = urlencode([("since", p.since.isoformat()), ("until", p.until.isoformat()), *dims])
            choices.append({"key": p.key, "label": p.label, "href": f"{active}?{query}",
                            "current": (p.since, p.until) == (since, until)})  # fmt: skip
    return templates.TemplateResponse(
        request,
        "page.html",
        {"page": page, "nav": NAV, "active": active, "filters": shown, "presets": choices, "filter_names": names,
         "options": _options(request) if shown else {}, "csrf": login.csrf_token if login else "",
         "with_params": with_params},
        status_code=status,
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
    filters = _events_filters(filters)
    wanted = request.query_params.get("csv")
    if wanted is not None:  # one table: read only what it shows
        return _csv(overview_table(ledger, filters, _today(), wanted), "/", wanted)
    page = overview_page(ledger, filters, _today(), open_alert_count(ledger))
    return _render(request, login, page, "/", filters)


@router.get("/sessions", response_class=HTMLResponse)
def sessions(
    request: Request,
    login: LoginDep,
    filters: FiltersDep,
    sort: Annotated[str, Query(pattern=_pattern(SORTS))] = "started_at",
    order: Order = "desc",
    page: PageNumber = 1,
) -> Response:
    built = sessions_page(_ledger(request), filters, _today(), sort, order == "desc", page)
    return _render(request, login, built, "/sessions", filters, unpriced=filters.unpriced)


@router.get("/sessions/{session_id:path}", response_class=HTMLResponse)
def session(request: Request, login: LoginDep, session_id: str) -> Response:
    built = session_page(_ledger(request), session_id)
    if built is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return _render(request, login, built, "/sessions")


@router.get("/users", response_class=HTMLResponse)
def users(
    request: Request,
    login: LoginDep,
    filters: FiltersDep,
    sort: Annotated[str, Query(pattern=_pattern([c.key for c in USER_COLUMNS]))] = "total_usd",
    order: Order = "desc",
    page: PageNumber = 1,
) -> Response:
    built = users_page(_ledger(request), _events_filters(filters), _today(), sort, order == "desc", page)
    return _render(request, login, built, "/users", filters)


@router.get("/agents", response_class=HTMLResponse)
def agents(
    request: Request,
    login: LoginDep,
    filters: FiltersDep,
    sort: Annotated[str, Query(pattern=_pattern([c.key for c in AGENT_COLUMNS]))] = "cost_usd",
    order: Order = "desc",
    page: PageNumber = 1,
) -> Response:
    if request.query_params.get("csv") == "agents":  # the table alone: not the page's cost cards
        table = agents_table(_ledger(request), _events_filters(filters), _today(), sort, order == "desc")
        return _csv(table, "/agents", "agents")
    built = agents_page(_ledger(request), _events_filters(filters), _today(), sort, order == "desc", page)
    return _render(request, login, built, "/agents", filters)


@router.get("/prices", response_class=HTMLResponse)
def prices(
    request: Request,
    login: LoginDep,
    service: Annotated[str | None, Query(max_length=64)] = None,
    sort: Annotated[str | None, Query(pattern=_pattern(PRICE_SORTS))] = None,
    order: Order = "asc",
    page: PageNumber = 1,
) -> Response:
    built = prices_page(_ledger(request), _today(), service or None, sort or "", order == "desc", page)
    return _render(request, login, built, "/prices")


@router.get("/session-types", response_class=HTMLResponse)
def session_types(request: Request, login: LoginDep, filters: FiltersDep) -> Response:
    page = session_types_page(_ledger(request), _events_filters(filters), _today())
    names = tuple(n for n in FILTER_NAMES if n != "mode")
    return _render(request, login, page, "/session-types", filters, names)


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, login: LoginDep) -> Response:
    return _render(request, login, alerts_page(_ledger(request)), "/alerts")


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
def margins(
    request: Request,
    login: LoginDep,
    since: SinceDay = None,
    until: UntilDay = None,
    plan: Annotated[str | None, Query(max_length=256)] = None,
    user: Annotated[str | None, Query(max_length=256)] = None,
    sort: Annotated[str, Query(pattern=_pattern(USER_SORTS))] = "margin_usd",
    order: Order = "asc",
    page: PageNumber = 1,
) -> Response:
    filters = page_filters(since, until)
    first, last = bounds(window(filters, _today(), MARGIN_DAYS))
    built = margins_page(_ledger(request), first, last, plan or None, user or None, sort, order == "desc", page)
    return _render(request, login, built, "/margins", filters, ("plan", "user"), days=MARGIN_DAYS, compare=False)


@router.get("/search", response_class=HTMLResponse)
def find(request: Request, login: LoginDep, q: Annotated[str, Query(min_length=1, max_length=256)]) -> Response:
    target, found = search(_ledger(request), q, _today())
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return _render(request, login, search_page(q.strip(), found), "/search")


# -- static files -------------------------------------------------------------------------------


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse(assets.url("favicon.svg"), status_code=301)


@router.get("/assets/{name}")
def asset(request: Request, name: str, v: str | None = None) -> Response:
    found = assets.asset(name)
    if found is None:
        raise HTTPException(404, "no such file")
    # Named by its content: a browser may keep it for good. Asked without (or with an old) version: revalidate.
    cache = "public, max-age=31536000, immutable" if v == found.version else "no-cache"
    headers = {"Cache-Control": cache, "ETag": f'"{found.version}"', "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == f'"{found.version}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=found.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)
