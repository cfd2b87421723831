"""The dashboard in a real headless Chromium against a real server over loopback.

Every number read off a page is checked against the HTTP API (admin key) or the
library on the same database file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest

from costledger import clock
from costledger.store import Filters, queries

from .conftest import DEMO_DAYS, Running, screenshot, sign_in

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def dollars(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").strip())


def card(tab: Any, key: str) -> str:
    return str(tab.inner_text(f"[data-card='{key}'] .value")).strip()


def api(server: Running, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, headers={"Authorization": f"Bearer {server.admin_key}"})
    response.raise_for_status()
    return response.json()


def today() -> dt.date:
    return clock.today()


def cents(amount: Decimal | str) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.01"))


def test_wrong_key_is_refused_and_nothing_shows_without_login(browser: Any, server: Running) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.goto(server.url + "/sessions?mode=phone_call")
    assert "/login" in tab.url and "Admin key" in tab.content()
    sign_in(tab, server.url, "cl_admin_not-a-real-key-at-all-000000000000")
    assert "/login" in tab.url
    assert "not an active admin key" in tab.inner_text("#login-error")
    sign_in(tab, server.url, server.ingest_key)  # a real key, but it may only write events
    assert "/login" in tab.url and tab.is_visible("#login-error")
    screenshot(tab, "login-refused")
    assert not [c for c in context.cookies() if c["name"] == "costledger_session"]
    sign_in(tab, server.url, server.admin_key)
    assert tab.url.rstrip("/") == server.url and tab.is_visible("[data-card='month']")
    session_cookie = next(c for c in context.cookies() if c["name"] == "costledger_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
    assert server.admin_key not in session_cookie["value"]
    tab.click("form.logout button")
    tab.wait_for_url("**/login")
    tab.goto(server.url + "/")
    assert "/login" in tab.url
    context.close()


def test_overview_shows_the_numbers_of_the_api_and_the_library(page: Any, server: Running) -> None:
    first = today().replace(day=1)
    month = api(server, "/v1/costs", group_by="service", since=first.isoformat(), until=today().isoformat())
    assert dollars(card(page, "month")) == cents(month["cost_usd"])
    day = api(server, "/v1/costs", group_by="service", since=today().isoformat(), until=today().isoformat())
    assert dollars(card(page, "today")) == cents(day["cost_usd"])
    with server.ledger.store.engine.connect() as connection:
        view = queries.overview(connection, today())
    assert dollars(card(page, "forecast")) == cents(view.month.forecast_usd)
    assert view.avg_session_usd is not None and dollars(card(page, "avg")) == cents(view.avg_session_usd)
    assert int(card(page, "unpriced").replace(",", "")) == view.unpriced
    # The service table: same services, same cents, same order as the API's month totals.
    shown = page.eval_on_selector_all(
        "[data-table='services'] tbody tr",
        "rows => rows.map(r => [r.querySelector('[data-col=service]').innerText,"
        " r.querySelector('[data-col=cost_usd]').innerText])",
    )
    expected = [(row["group"]["service"], cents(row["cost_usd"])) for row in month["rows"]]
    # (a month total under a dime, such as a single phone call's, is shown with its sub-cent digits)
    assert [(name, cents(dollars(cost))) for name, cost in shown] == expected
    # The daily trend table matches the API's daily trend, day by day.
    daily = api(server, "/v1/costs/daily", days=90)
    by_day = {row["day"]: cents(row["cost_usd"]) for row in daily["rows"]}
    table = page.eval_on_selector_all(
        "[data-table='daily'] tbody tr",
        "rows => rows.map(r => [r.querySelector('[data-col=day]').innerText,"
        " r.querySelector('[data-col=cost_usd]').innerText])",
    )
    assert len(table) == 90
    assert all(dollars(cost) == by_day[d] for d, cost in table if d in by_day)
    screenshot(page, "overview-1280")


def test_charts_draw_with_data_points(page: Any, server: Running) -> None:
    for chart in ("trend-daily", "trend-weekly", "trend-monthly", "by-kind", "by-mode", "by-tier"):
        page.wait_for_selector(f"#chart-{chart}[data-drawn]")
    # The daily line has one point per day; bars one rect per mode; the donut one slice per kind of service.
    values = page.evaluate("document.getElementById('chart-trend-daily').data[0].y")
    assert len(values) == 90 and sum(1 for v in values if v > 0) >= DEMO_DAYS - 1
    line = page.get_attribute("#chart-trend-daily .scatterlayer path.js-line", "d")
    assert line is not None and line.count("L") >= DEMO_DAYS - 2  # plotly merges the flat zero days
    with server.ledger.store.engine.connect() as connection:
        view = queries.overview(connection, today())
    assert page.locator("#chart-by-mode .bars .point").count() == len(view.by_mode)
    assert page.locator("#chart-by-kind .slice").count() >= 4  # LLM, STT, TTS, rooms, payments
    # One bar per month of the range that has a cost: two or three for the 35-day demo, by the day it runs.
    window = api(server, "/v1/costs", group_by="month", since=(today() - dt.timedelta(days=89)).isoformat(),
                 until=today().isoformat())  # fmt: skip
    months = [row for row in window["rows"] if Decimal(row["cost_usd"]) > 0]
    assert len(months) in (2, 3) and page.locator("#chart-trend-monthly .bars .point").count() == len(months)
    heights = page.eval_on_selector_all(
        "#chart-by-mode .bars .point path", "paths => paths.map(p => p.getBoundingClientRect().height)"
    )
    assert all(h > 0 for h in heights)


def test_a_filter_changes_the_numbers(page: Any, server: Running) -> None:
    everyone = dollars(card(page, "month"))
    page.select_option("select[name=tier]", "creator")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**tier=creator**")
    creator = dollars(card(page, "month"))
    first = today().replace(day=1)
    month = api(server, "/v1/costs", group_by="service", since=first.isoformat(), until=today().isoformat(),
                tier="creator")  # fmt: skip
    assert creator == cents(month["cost_usd"])
    assert 0 < creator < everyone
    assert "agent=" not in page.url  # empty fields stay out of the URL
    screenshot(page, "overview-tier-creator")


def test_drill_down_from_chart_and_table_to_a_session(page: Any, server: Running) -> None:
    page.wait_for_selector("#chart-by-mode[data-drawn]")
    # A real mouse over the bar: plotly listens on its drag layer above the bars, not on the bars.
    bar = page.locator("#chart-by-mode .bars .point path").first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 3
    page.mouse.move(x, y)
    page.wait_for_timeout(300)  # plotly picks the point on hover, then clicks it
    page.mouse.click(x, y)
    page.wait_for_url("**/sessions?mode=**")
    mode = page.url.split("mode=")[1].split("&")[0]
    modes = set(page.eval_on_selector_all("[data-table='sessions'] td[data-col=mode]", "c => c.map(x => x.innerText)"))
    assert modes == {mode}
    link = page.locator("[data-table='sessions'] td[data-col=session_id] a").first
    session_id = link.inner_text()
    link.click()
    page.wait_for_url(f"**/sessions/{session_id}")
    summary = server.ledger.session_summary(session_id)
    assert dollars(card(page, "cost")) == cents(summary.cost_usd)
    detail = api(server, f"/v1/sessions/{session_id}")
    times = page.eval_on_selector_all("[data-table='events'] td[data-col=ts]", "c => c.map(x => x.innerText)")
    assert len(times) == summary.events == len(detail["events"]) and times == sorted(times)
    agents = page.eval_on_selector_all("[data-table='by_agent'] td[data-col=agent]", "c => c.map(x => x.innerText)")
    assert set(agents) == {a or "(no agent)" for a in summary.by_agent}
    page.wait_for_selector("#chart-session-agents[data-drawn]")
    screenshot(page, "session")


def test_sessions_sort_and_page(page: Any, server: Running) -> None:
    page.goto(server.url + "/sessions?sort=cost&order=desc")
    costs = [dollars(c) for c in page.eval_on_selector_all("[data-table='sessions'] td[data-col=cost_usd]",
                                                            "c => c.map(x => x.innerText)")]  # fmt: skip
    assert len(costs) == 50 and costs == sorted(costs, reverse=True)
    with server.ledger.store.engine.connect() as connection:
        since = today() - dt.timedelta(days=89)
        _, count = queries.list_sessions(connection, Filters(since=since, until=today()), limit=1)
    assert f"{count:,} sessions" in page.inner_text("#session-count")
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    second = [dollars(c) for c in page.eval_on_selector_all("[data-table='sessions'] td[data-col=cost_usd]",
                                                             "c => c.map(x => x.innerText)")]  # fmt: skip
    assert second[0] <= costs[-1]


def test_every_table_exports_csv(page: Any, server: Running) -> None:
    page.goto(server.url + "/?tier=professional")
    with page.expect_download() as info:
        page.click("[data-csv='modes']")
    download = info.value
    assert download.suggested_filename.endswith("-modes.csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))  # noqa: SIM115
    with server.ledger.store.engine.connect() as connection:
        view = queries.overview(connection, today(), Filters(dims={"tier": "professional"}))
    assert [(r["mode"], Decimal(r["cost_usd"])) for r in rows] == [(m.mode, m.cost_usd) for m in view.by_mode]
    for path in ("/", "/sessions", "/users", "/agents", "/prices", "/session-types", "/alerts"):
        page.goto(server.url + path)
        for name in page.eval_on_selector_all("[data-csv]", "links => links.map(a => a.dataset.csv)"):
            with page.expect_download() as info:
                page.click(f"[data-csv='{name}']")
            text = open(info.value.path(), encoding="utf-8").read()  # noqa: SIM115
            assert text.splitlines()[0], f"{path} {name} exported nothing"


def test_users_agents_prices_session_types_alerts_and_margins(page: Any, server: Running) -> None:
    page.goto(server.url + "/users")
    page.wait_for_selector("#chart-user-trend[data-drawn]")
    assert page.locator("#chart-user-trend .scatterlayer .trace").count() == 5
    since = today() - dt.timedelta(days=89)
    top = server.ledger.report("user", since=since, until=today())[0]
    first_row = page.locator("[data-table='top_users'] tbody tr").first
    assert first_row.locator("[data-col=user]").inner_text() == top.group["user"]
    assert dollars(first_row.locator("[data-col=cost_usd]").inner_text()) == cents(top.cost_usd)
    page.goto(server.url + "/agents")
    assert page.locator("[data-table='top_agents'] tbody tr").count() >= 10
    page.goto(server.url + "/prices")
    rates = page.inner_text("[data-table='prices']")
    assert "claude-sonnet-4" in rates and "nova-3" in rates and "deepgram.com" in rates
    assert page.locator("[data-table='fixed_costs'] tbody tr").count() == 3
    page.goto(server.url + "/session-types")
    flagged = page.eval_on_selector_all("td.flagged", "c => c.map(x => x.closest('tr').innerText)")
    assert any("expert_council" in row for row in flagged)  # the demo's estimate is too low on purpose
    page.wait_for_selector("#chart-estimates[data-drawn]")
    screenshot(page, "session-types")
    page.goto(server.url + "/alerts")
    assert page.is_visible("[data-card='open']")
    page.goto(server.url + "/margins")
    assert page.locator("[data-table='plans'] tbody tr").count() > 0 or page.is_visible("#not-configured")
    screenshot(page, "margins")


def test_alerts_match_the_api_and_are_acknowledged_with_the_form(page: Any, server: Running) -> None:
    fired = api(server, "/v1/alerts", limit=200)["alerts"]
    assert fired, "the demo's unknown model fires unpriced alerts"
    page.goto(server.url + "/alerts")
    ids = page.eval_on_selector_all("[data-table='alerts'] td[data-col=id]", "c => c.map(x => Number(x.innerText))")
    assert ids == [a["id"] for a in fired]
    open_now = len(api(server, "/v1/alerts", unacked="true", limit=200)["alerts"])
    assert int(card(page, "open")) == open_now > 0
    page.click("form.ack button")
    page.wait_for_url("**/alerts")
    assert int(card(page, "open")) == 0
    assert api(server, "/v1/alerts", unacked="true")["alerts"] == []


def test_readable_at_phone_width(browser: Any, server: Running) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    tab = context.new_page()
    sign_in(tab, server.url, server.admin_key)
    for path, name in (("/", "overview-390"), ("/sessions", "sessions-390"), ("/session-types", "types-390")):
        tab.goto(server.url + path)
        tab.wait_for_load_state("networkidle")
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(tab, name)
    context.close()
