"""The dashboard in a real headless Chromium against a real server over loopback, at 1280 px and at
390 px (a phone). Every number read off a page is checked against the library's own queries on the
same database file (or the HTTP API); every page is screenshotted at both widths into
artifacts/dashboard/. Any console error (a refused script, a CSP violation) fails the test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from costledger import clock
from costledger.dashboard.margins_page import state_of
from costledger.margins import report_for
from costledger.margins.arithmetic import Margin
from costledger.store import Filters, queries
from costledger.store.session_modes import session_costs_by_mode
from costledger.store.session_totals import list_whole
from costledger.total_cost import previous_period, sessions_cost, whole_cost

from .conftest import Running, screenshot, sign_in

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
PAGES = ("/", "/sessions", "/users", "/agents", "/margins", "/alerts", "/prices", "/session-types")


def dollars(text: str) -> Decimal:
    return Decimal(text.strip().replace("\u2212", "-").replace("$", "").replace(",", ""))


def cents(amount: Decimal | str) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.01"))


def card(tab: Any, key: str) -> str:
    return str(tab.inner_text(f"[data-card='{key}'] .value")).strip()


def cells(tab: Any, table: str, column: str) -> list[str]:
    found: list[str] = tab.eval_on_selector_all(f"[data-table='{table}'] tbody td[data-col='{column}']",
                                                "cells => cells.map(c => c.innerText.trim())")  # fmt: skip
    return found


def api(server: Running, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, headers={"Authorization": f"Bearer {server.admin_key}"})
    response.raise_for_status()
    return response.json()


def today() -> dt.date:
    return clock.today()


def default_range() -> Filters:
    return Filters(since=today() - dt.timedelta(days=29), until=today())


def go(tab: Any, server: Running, path: str) -> None:
    tab.goto(server.url + path)
    tab.wait_for_load_state("networkidle")


def charts_drawn(tab: Any) -> None:
    for chart in tab.eval_on_selector_all("[data-chart]", "charts => charts.map(c => c.dataset.chart)"):
        tab.wait_for_selector(f"#chart-{chart}[data-drawn]")


def visible_in_width(tab: Any, selector: str) -> bool:
    """Is every element `selector` finds on screen across (no sideways scrolling to reach it)?"""
    boxes = tab.eval_on_selector_all(selector, "els => els.map(e => e.getBoundingClientRect())"
                                     ".filter(r => r.width > 0).map(r => [r.left, r.right])")  # fmt: skip
    return bool(boxes) and all(left >= 0 and right <= tab.width + 1 for left, right in boxes)


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
    assert tab.url.rstrip("/") == server.url and tab.is_visible("[data-card='total']")
    session_cookie = next(c for c in context.cookies() if c["name"] == "costledger_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
    assert server.admin_key not in session_cookie["value"]
    tab.click("form.logout button")
    tab.wait_for_url("**/login")
    tab.goto(server.url + "/")
    assert "/login" in tab.url
    context.close()


def test_every_figure_follows_the_range_with_its_previous_period(tab: Any, server: Running) -> None:
    """Items 1 and 2: a preset's range, the whole cost split into its parts, the change on each card."""
    go(tab, server, "/")
    whole_default = whole_cost_of(server, default_range())
    assert dollars(card(tab, "total")) == cents(whole_default.parts.total)
    tab.click("[data-preset='last-month']")
    tab.wait_for_url("**since=**")
    first = today().replace(day=1)
    last_month = Filters(since=(first - dt.timedelta(days=1)).replace(day=1), until=first - dt.timedelta(days=1))
    assert f"since={last_month.since}" in tab.url and f"until={last_month.until}" in tab.url
    assert tab.get_attribute("[data-preset='last-month']", "aria-current") == "true"
    whole = whole_cost_of(server, last_month)
    assert last_month.since is not None and last_month.until is not None
    before = whole_cost_of(server, Filters(*previous_period(last_month.since, last_month.until)))
    for key in ("total", "metered", "extra", "fixed"):
        now, earlier = getattr(whole.parts, key), getattr(before.parts, key)
        assert dollars(card(tab, key)) == cents(now), key
        change = tab.inner_text(f"[data-card='{key}'] [data-delta]")
        if earlier:
            arrow = "▲" if now > earlier else "▼"
            assert change.startswith(f"{arrow} {abs((now - earlier) / earlier) * 100:.1f}%"), (key, change)
    # The metered part is the API's figure for the same range; the rest is what the config adds.
    month = api(server, "/v1/costs", group_by="service", since=str(last_month.since), until=str(last_month.until))
    assert dollars(card(tab, "metered")) == cents(month["cost_usd"])
    assert whole.parts.extra > 0 and whole.parts.fixed > 0
    # The donut and the by-service table are of the range too (not the month of today).
    shown = dict(zip(cells(tab, "services", "service"), cells(tab, "services", "cost_usd"), strict=True))
    assert {k: dollars(v) for k, v in shown.items()} == {r["group"]["service"]: cents(r["cost_usd"])
                                                         for r in month["rows"]}  # fmt: skip
    charts_drawn(tab)
    donut = tab.evaluate("document.getElementById('chart-by-kind').data[0]")
    assert "per-session extra" in donut["labels"] and "fixed costs" in donut["labels"]
    assert abs(sum(donut["values"]) - float(whole.parts.total)) < 0.01
    # Month to date stays the month of today, and says so.
    assert f"{today():%b %Y}" in tab.inner_text("[data-card='month'] .label")
    screenshot(tab, f"overview-last-month-{tab.width}")


def whole_cost_of(server: Running, filters: Filters) -> Any:
    with server.ledger.store.engine.connect() as connection:
        return whole_cost(connection, server.ledger.config, filters)


def test_the_first_screen_says_the_total_where_it_goes_and_which_plan_loses(tab: Any, server: Running) -> None:
    """Done when: within one screen, the total split into its parts, where it goes, which plan loses money."""
    go(tab, server, "/")
    charts_drawn(tab)
    height = tab.viewport_size["height"]
    for key in ("total", "metered", "extra", "fixed"):
        box = tab.locator(f"[data-card='{key}']").bounding_box()
        assert box["y"] + box["height"] <= height, key
    plans = tab.locator("[data-card='plans']")
    if tab.width > 600:
        assert plans.bounding_box()["y"] + 40 <= height  # the plans card's verdict, and the donut's top
        assert tab.locator("#chart-by-kind").bounding_box()["y"] < height
    since, until = default_range().since, default_range().until
    assert since is not None and until is not None
    from costledger.dashboard.margins_page import at_limit_rows

    with server.ledger.store.engine.connect() as connection:
        losing = [r.plan.name for r in at_limit_rows(server.ledger, since, until, connection) if r.flag == "negative"]
    text = plans.inner_text()
    assert (f"{len(losing)} of" in text) if losing else ("earn" in text or "thin" in text)
    assert all(name in text for name in losing)
    screenshot(tab, f"overview-{tab.width}")


def test_sessions_show_their_whole_cost_sorted_and_paged(tab: Any, server: Running) -> None:
    go(tab, server, "/sessions?sort=total_usd&order=desc")
    totals = [dollars(c) for c in cells(tab, "sessions", "total_usd")]
    assert len(totals) == 50 and totals == sorted(totals, reverse=True)
    assert visible_in_width(tab, "[data-table='sessions'] td[data-col='total_usd']")
    assert visible_in_width(tab, "[data-table='sessions'] td[data-col='session_id']")
    with server.ledger.store.engine.connect() as connection:
        held = sessions_cost(connection, server.ledger.config, default_range())
        _, count = list_whole(connection, default_range(), limit=1)
    assert dollars(card(tab, "total")) == cents(held.parts.total)
    assert int(card(tab, "count").replace(",", "")) == held.sessions == count
    assert f"{count:,} rows" in tab.inner_text("[data-pager='sessions']")
    # The costliest session is a human-expert one: its total carries the $60 the config adds.
    first = tab.locator("[data-table='sessions'] td[data-col='session_id'] a").first
    session_id = first.inner_text()
    summary = server.ledger.session_summary(session_id)
    assert summary.mode == "expert_session" and totals[0] > 60
    tab.click("[data-pager='sessions'] a[data-page='2']")
    tab.wait_for_url("**page=2**")
    second = [dollars(c) for c in cells(tab, "sessions", "total_usd")]
    assert second[0] <= totals[-1]
    if tab.width > 900:  # the header sorts on the server: by metered spend, ascending then descending
        tab.click("[data-sort-link='metered_usd']")
        tab.wait_for_url("**sort=metered_usd**")
        metered = [dollars(c) for c in cells(tab, "sessions", "metered_usd") if c != "unpriced"]
        assert metered == sorted(metered, reverse=True)
    go(tab, server, f"/sessions/{session_id}")
    parts = [dollars(card(tab, k)) for k in ("metered", "extra", "fixed")]
    assert dollars(card(tab, "metered")) == cents(summary.cost_usd) and dollars(card(tab, "extra")) == 60
    assert dollars(card(tab, "total")) == cents(summary.cost_usd + Decimal(60) + parts[2])
    charts_drawn(tab)
    screenshot(tab, f"session-{tab.width}")


def test_unpriced_is_a_call_to_action(tab: Any, server: Running) -> None:
    """Item 5: the card leads to the sessions with unpriced events; the prices page says how to price them."""
    go(tab, server, "/")
    unpriced = int(card(tab, "unpriced"))
    assert unpriced == whole_cost_of(server, default_range()).unpriced > 0
    tab.click("[data-card='unpriced']")
    tab.wait_for_url("**unpriced=1**")
    counts = [int(c) for c in cells(tab, "sessions", "unpriced")]
    with server.ledger.store.engine.connect() as connection:
        _, n = list_whole(connection, Filters(since=today() - dt.timedelta(days=29), until=today(), unpriced=True))
    assert counts and all(c > 0 for c in counts) and len(counts) == n
    assert tab.is_checked("input[name=unpriced]")
    go(tab, server, "/prices")
    assert "claude-experimental-0901" in cells(tab, "unknown", "model")
    snippet = tab.inner_text("[data-snippet='anthropic:claude-experimental-0901'] pre")
    assert "[[prices]]" in snippet and 'model = "claude-experimental-0901"' in snippet
    rates = " ".join(cells(tab, "prices", "rates"))
    assert "/ MTok" in rates and "2.9% + $0.30" in rates and "$0.0043 / min" in rates
    if tab.width > 900:
        assert tab.get_attribute("[data-table='prices'] td[data-col='source'] a", "href").startswith("https://")
    assert tab.evaluate("document.documentElement.scrollWidth") <= tab.width
    screenshot(tab, f"prices-{tab.width}")
    go(tab, server, "/?service=anthropic")
    models = dict(zip(cells(tab, "models", "model"), cells(tab, "models", "cost_usd"), strict=True))
    assert models["claude-experimental-0901"] == "unpriced"  # never $0.00


def test_margins_you_can_see(tab: Any, server: Running) -> None:
    """Item 3: a coloured card per plan, the at-limit verdict first, a chart, filters, paged users."""
    go(tab, server, "/margins")
    since, until = today() - dt.timedelta(days=89), today()
    report = report_for(server.ledger, since=since, until=until)
    for plan in server.ledger.config.plans:
        margin = sum((c.margin for c in report.plans if c.plan == plan.name), start=Margin())
        selector = f"[data-card='plan-{plan.name}']"
        assert dollars(tab.inner_text(f"{selector} .value")) == cents(margin.margin), plan.name
        state = state_of(margin, plan.min_margin_share)
        assert f"state-{state}" in (tab.get_attribute(selector, "class") or ""), plan.name
        verdict = next(r for r in report.at_limit if r.plan.name == plan.name)
        badge = tab.inner_text(f"{selector} [data-badge]")
        assert ("loses money" in badge) == (verdict.flag == "negative"), plan.name
    headers = tab.eval_on_selector_all("[data-table='at_limit'] th", "th => th.map(h => h.dataset.key)")
    assert headers[:3] == ["plan", "verdict", "p90_margin_usd"]
    assert visible_in_width(tab, "[data-table='at_limit'] td[data-col='verdict']")
    shares = cells(tab, "months", "margin_share")
    assert shares and all(s.endswith("%") for s in shares if s != "—")
    negative = [c for c in cells(tab, "users", "margin_usd") if c.startswith("\u2212")]
    assert negative and all(c.startswith("\u2212$") for c in negative)  # −$68.10, not $-68.10
    charts_drawn(tab)
    assert tab.evaluate("document.getElementById('chart-margin-trend').data.length") >= len(
        {c.plan for c in report.plans}) - 1  # fmt: skip
    margins = [dollars(c) for c in cells(tab, "users", "margin_usd")]
    assert len(margins) == 50 and margins == sorted(margins)
    assert visible_in_width(tab, "[data-table='users'] td[data-col='margin_usd']")
    screenshot(tab, f"margins-{tab.width}")
    go(tab, server, "/margins?plan=creator")
    assert tab.eval_on_selector_all("[data-card]", "cards => cards.map(c => c.dataset.card)") == ["plan-creator"]
    assert set(cells(tab, "plans", "plan")) == {"creator"}


def test_alert_rules_their_standing_and_acknowledging_one_or_a_group(tab: Any, server: Running) -> None:
    """Item 4: the rules with thresholds and where they stand; fired alerts grouped, acked alone or by group."""
    go(tab, server, "/alerts")
    rules = dict(zip(cells(tab, "rules", "name"), cells(tab, "rules", "now"), strict=True))
    spent = server.ledger.total_usd(since=today(), until=today())
    daily = next(v for k, v in rules.items() if k.startswith("daily_total"))
    assert daily == f"${cents(spent):,} today"
    month = server.ledger.total_usd(since=today().replace(day=1), until=today())
    assert next(v for k, v in rules.items() if k.startswith("monthly_total")) == f"${cents(month):,} this month"
    assert "$100.00" in cells(tab, "rules", "limit")
    screenshot(tab, f"alerts-{tab.width}")
    assert visible_in_width(tab, "[data-table^='fired-'] tbody tr > td:last-child")  # ack buttons on screen
    open_before = len(api(server, "/v1/alerts", unacked="true", limit=500)["alerts"])
    if open_before < 2:  # the other width acknowledged them: each fired alert now says so
        assert set(tab.eval_on_selector_all("[data-table^='fired-'] tbody tr > td:last-child",
                                            "c => c.map(x => x.innerText.trim())")) == {"done"}  # fmt: skip
        return
    one = tab.locator("button[data-ack]").first
    alert_id = int(one.get_attribute("data-ack") or 0)
    one.click()
    tab.wait_for_url("**/alerts")
    still = {a["id"] for a in api(server, "/v1/alerts", unacked="true", limit=500)["alerts"]}
    assert alert_id not in still and len(still) == open_before - 1
    assert int(card(tab, "open")) == len(still)
    tab.locator("button[data-ack-group]").first.click()
    tab.wait_for_url("**/alerts")
    assert int(card(tab, "open")) == len(api(server, "/v1/alerts", unacked="true", limit=500)["alerts"]) < len(still)


def test_find_a_session_or_a_user_and_sort_any_table(tab: Any, server: Running) -> None:
    """Item 6: the search box, sortable headers, cost by model on the overview."""
    session_id = server.ledger.sessions(limit=1)[0][0].session_id
    go(tab, server, "/")
    tab.fill("form.search input[name=q]", session_id)
    tab.press("form.search input[name=q]", "Enter")
    tab.wait_for_url(f"**/sessions/{session_id}")
    user = next(t.group["user"] for t in server.ledger.report("user", since=default_range().since) if t.group["user"])
    tab.fill("form.search input[name=q]", str(user))
    tab.press("form.search input[name=q]", "Enter")
    tab.wait_for_url(f"**/users?user={user}")
    assert cells(tab, "users", "user") == [user]
    go(tab, server, "/")
    charts_drawn(tab)
    with server.ledger.store.engine.connect() as connection:
        models = queries.totals(connection, ["service", "model"], default_range())
    assert tab.evaluate("document.getElementById('chart-by-model').data[0].y.length") == min(10, len(models))
    # A table whose rows are all on the page sorts in the browser: services by cost, up then down.
    if tab.width > 600:
        button = tab.locator("[data-table='services'] button[data-sort='events']")
        button.click()
        events = [int(c.replace(",", "")) for c in cells(tab, "services", "events")]
        assert events == sorted(events, reverse=True)
        button.click()
        assert [int(c.replace(",", "")) for c in cells(tab, "services", "events")] == sorted(events)
    go(tab, server, "/users?sort=sessions&order=desc")
    sessions = [int(c.replace(",", "")) for c in cells(tab, "users", "sessions")] if tab.width > 900 else []
    assert sessions == sorted(sessions, reverse=True)


def test_readable_on_every_page_at_both_widths(tab: Any, server: Running) -> None:
    """Item 7: no sideways scrolling, the nav all there, the money column on screen, dollar axes."""
    money = {"/sessions": ("sessions", "total_usd"), "/users": ("users", "total_usd"),
             "/agents": ("agents", "cost_usd"), "/margins": ("users", "margin_usd")}  # fmt: skip
    for path in PAGES:
        go(tab, server, path)
        charts_drawn(tab)
        assert tab.evaluate("document.documentElement.scrollWidth") <= tab.width, path
        assert visible_in_width(tab, "header.top nav a"), path  # every page's link is on screen
        if path in money:
            table, column = money[path]
            assert visible_in_width(tab, f"[data-table='{table}'] td[data-col='{column}']"), path
        ticks = tab.eval_on_selector_all(".plot .ytick text, .plot .xtick text", "t => t.map(x => x.textContent)")
        if path in ("/", "/sessions", "/users", "/margins"):
            assert any(t.startswith("$") or t.startswith("\u2212$") for t in ticks), path
        screenshot(tab, f"page-{path.strip('/').replace('/', '-') or 'overview'}-{tab.width}")
    go(tab, server, f"/?since={today() - dt.timedelta(days=59)}&until={today()}")
    charts_drawn(tab)
    weekly = tab.evaluate("document.getElementById('chart-trend-weekly').data[0].x")
    assert len(weekly) >= 8 and all(w.startswith("week of ") for w in weekly)
    assert weekly[-1].endswith("(partial)")  # this week is not over
    monthly = tab.evaluate("document.getElementById('chart-trend-monthly').data[0].x")
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}( \(partial\))?", m) for m in monthly) and len(monthly) >= 2
    assert monthly[0].endswith("(partial)") == ((today() - dt.timedelta(days=59)).day != 1)
    go(tab, server, "/session-types")
    charts_drawn(tab)
    assert tab.evaluate("document.getElementById('chart-estimates').layout.yaxis.type") == "log"
    go(tab, server, "/nope")
    tab.problems.clear()  # the browser logs the 404 it was asked for
    assert "There is no page at /nope." in tab.inner_text("#error-detail") and tab.is_visible("header.top nav")
    screenshot(tab, f"error-404-{tab.width}")


def test_every_table_exports_every_row_to_csv(page: Any, server: Running) -> None:
    """Item 8: the CSV link gives every matching row, not the page."""
    tab = page
    go(tab, server, "/sessions")
    with tab.expect_download() as info:
        tab.click("[data-csv='sessions']")
    with open(info.value.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with server.ledger.store.engine.connect() as connection:
        _, count = list_whole(connection, default_range(), limit=1)
    assert len(rows) == count > 50 and all(r["started_at"].endswith("Z") for r in rows)
    go(tab, server, "/?tier=professional")
    with tab.expect_download() as info:
        tab.click("[data-csv='modes']")
    modes = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read(), newline="")))  # noqa: SIM115
    with server.ledger.store.engine.connect() as connection:
        expected = session_costs_by_mode(connection, Filters(since=default_range().since, until=today(),
                                                             dims={"tier": "professional"}))  # fmt: skip
    assert [(r["mode"], int(r["sessions"])) for r in modes] == [(m.mode, m.sessions) for m in expected]


def test_pages_are_light(browser: Any, server: Running) -> None:
    """Item 9 in a browser: what the overview's first load transfers; no charting code where nothing draws."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    fresh = context.new_page()
    sign_in(fresh, server.url, server.admin_key)  # a new context: nothing cached
    fresh.goto(server.url + f"/?since={today() - dt.timedelta(days=89)}")
    fresh.wait_for_load_state("networkidle")
    sizes = fresh.evaluate("[performance.getEntriesByType('navigation')[0].transferSize,"
                           " ...performance.getEntriesByType('resource').map(r => r.transferSize)]")  # fmt: skip
    assert sum(sizes) < 1_500_000, sizes
    fresh.goto(server.url + "/alerts")
    names = fresh.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
    assert not any("charts.js" in n for n in names)
    context.close()
