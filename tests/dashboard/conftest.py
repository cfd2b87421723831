"""A real server on loopback over a real SQLite file holding the demo workload, and a
real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, RUN_NOW, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu",
                 "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(os.environ.get("COSTLEDGER_ARTIFACTS", ROOT / "artifacts")) / "dashboard"
DEMO_DAYS = 35  # crosses a month boundary, so trends have two months and several weeks
# The browser tests read "today" and "this month" off a busy demo: they run at 18:00 UTC of the
# run's day, when the day (even the 1st of a month) has sessions. The edges of days and months are
# the calendar test's (tests/test_calendar.py).
DASHBOARD_NOW = dt.datetime.combine(dt.date.fromisoformat(RUN_NOW[:10]), dt.time(18), dt.UTC)


@pytest.fixture(autouse=True)
def _dashboard_clock() -> Iterator[None]:
    from costledger import clock

    with clock.use(DASHBOARD_NOW):
        yield


@dataclass
class Running:
    url: str
    admin_key: str
    ingest_key: str
    db: Path
    config: Path
    ledger: Any  # a Ledger of our own on the same file, to check the pages against the library


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    import uvicorn

    from costledger import Ledger
    from costledger.demo import record_workload, write_config
    from costledger.keys import create_key
    from costledger.server.app import create_app

    folder = tmp_path_factory.mktemp("dashboard")
    db, config = folder / "ledger.db", folder / "costledger.toml"
    write_config(config, DASHBOARD_NOW.date(), DEMO_DAYS)
    ledger = Ledger(db, config=config)
    record_workload(ledger, seed=11, days=DEMO_DAYS, now=DASHBOARD_NOW)
    admin, _ = create_key(ledger.store, "admin", "browser tests")
    ingest, _ = create_key(ledger.store, "ingest", "browser tests")
    app = create_app(str(db), config=str(config))
    port = _free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    yield Running(f"http://127.0.0.1:{port}", admin, ingest, db, config, ledger)
    running.should_exit = True
    thread.join(timeout=15)
    ledger.close()


def chromium_available() -> bool:
    if not os.access(CHROMIUM, os.X_OK):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(chromium_available(), f"Chromium at {CHROMIUM} with Playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


WIDTHS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}


def _signed_in_tab(browser: Any, server: Running, width: int) -> Iterator[Any]:
    """A signed-in tab at `width` px that fails the test on any console error (a CSP refusal, a script
    error) or uncaught exception, once the test is done."""
    phone = width < 600
    context = browser.new_context(viewport=WIDTHS[width], accept_downloads=True, is_mobile=phone,
                                  has_touch=phone, device_scale_factor=2 if phone else 1)  # fmt: skip
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(tab, server.url, server.admin_key)
    tab.width = width
    tab.problems = problems  # a test that asks for an error page clears what the browser logged of it
    yield tab
    context.close()
    assert not problems, problems


@pytest.fixture
def page(browser: Any, server: Running) -> Iterator[Any]:
    """A signed-in page at desktop width."""
    yield from _signed_in_tab(browser, server, 1280)


@pytest.fixture(params=sorted(WIDTHS, reverse=True), ids=lambda w: f"{w}px")
def tab(request: pytest.FixtureRequest, browser: Any, server: Running) -> Iterator[Any]:
    """A signed-in page at 1280 px, then at 390 px (a phone)."""
    yield from _signed_in_tab(browser, server, int(request.param))


def sign_in(tab: Any, url: str, key: str) -> None:
    tab.goto(url + "/")
    tab.fill("#key", key)
    tab.click("button[type=submit]")
    tab.wait_for_load_state("networkidle")


def screenshot(tab: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}-first-screen.png"))  # what a reader sees first
    return path
