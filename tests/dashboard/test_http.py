"""What every dashboard response carries over real HTTP: security headers, compression, cacheable
assets, HTML error pages, complete CSV exports; and how much a first visit transfers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from contextlib import closing
from pathlib import Path

import pytest

from conftest import CI, require
from costledger import clock
from costledger.dashboard import assets
from costledger.store import Filters
from costledger.store.session_totals import list_whole

from .conftest import Running
from .test_login import PAGES, signed_in

pytestmark = pytest.mark.timeout(180)
FIRST_LOAD_LIMIT = 1_500_000  # bytes on the wire for the overview and everything it loads


def test_every_page_carries_the_security_headers_and_no_store(server: Running) -> None:
    with closing(signed_in(server)) as client:
        session_id = server.ledger.sessions(limit=1)[0][0].session_id
        for path in (*PAGES, f"/sessions/{session_id}", "/nope", "/?csv=daily", "/login", "/search?q=zzz"):
            response = client.get(path)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, path
            assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0], path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert response.headers["cache-control"] == "no-store", path
        api = client.get("/v1/costs", headers={"Authorization": f"Bearer {server.admin_key}"})
        assert api.headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_script_and_load_charts_only_where_they_draw(server: Running) -> None:
    with closing(signed_in(server)) as client:
        for path in PAGES:
            html = client.get(path).text
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert 'src="/assets/' in tag or 'type="application/json"' in tag, (path, tag)
            assert re.search(r"\son[a-z]+=", html) is None, path  # no inline event handlers either
            draws = "data-figure-for" in html
            assert ("/assets/charts.js" in html) == draws, path
        assert "/assets/charts.js" not in client.get("/alerts").text


def test_responses_are_compressed_and_assets_cached_by_their_content(server: Running) -> None:
    with closing(signed_in(server)) as client:
        page = client.get("/", headers={"Accept-Encoding": "gzip"})
        assert page.headers["content-encoding"] == "gzip"
        charts = assets.asset(assets.CHARTS)
        assert charts is not None
        versioned = client.get(assets.url(assets.CHARTS), headers={"Accept-Encoding": "gzip"})
        assert versioned.headers["content-encoding"] == "gzip" and versioned.content == charts.body
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = client.get(assets.url(assets.CHARTS), headers={"If-None-Match": f'"{charts.version}"'})
        assert again.status_code == 304 and not again.content
        plain = client.get("/assets/charts.js", headers={"Accept-Encoding": "identity"})
        assert plain.headers["cache-control"] == "no-cache" and "content-encoding" not in plain.headers
        assert client.get("/favicon.ico", follow_redirects=True).headers["content-type"] == "image/svg+xml"


def test_the_charting_library_is_the_installed_basic_bundle(server: Running) -> None:
    path, origin = assets.charting_library()
    root = Path(__file__).resolve().parents[2]
    basic = root / assets.BASIC_BUNDLE
    # `make install` puts it there (package.json); without npm the plotly package's full bundle is served.
    require(basic.is_file() or not CI, f"{basic} (npm ci)")
    if basic.is_file():
        assert path == basic and origin == "npm plotly.js-basic-dist-min"
        assert b"plotly.js (basic - minified)" in path.read_bytes()[:200]


def test_a_first_visit_to_the_overview_transfers_under_the_limit(server: Running) -> None:
    with closing(signed_in(server)) as client:
        client.headers["Accept-Encoding"] = "gzip"
        with client.stream("GET", "/") as response:
            html = b"".join(response.iter_raw())
        wire = len(html)
        text = client.get("/").text
        for link in sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', text))):
            with client.stream("GET", link) as response:
                assert response.status_code == 200, link
                wire += sum(len(chunk) for chunk in response.iter_raw())
    assert wire < FIRST_LOAD_LIMIT, f"{wire:,} bytes"


def test_errors_on_pages_are_pages_and_on_the_api_json(server: Running) -> None:
    with closing(signed_in(server)) as client:
        missing = client.get("/nope")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert 'href="/sessions"' in missing.text and "There is no page at /nope." in missing.text
        bad = client.get("/sessions", params={"sort": "drop table"})
        assert bad.status_code == 422 and "<code>query.sort</code>" in bad.text
        bad_date = client.get("/", params={"since": "yesterday"})
        assert bad_date.status_code == 422 and "query.since" in bad_date.text
        api = client.get("/v1/nope", headers={"Authorization": f"Bearer {server.admin_key}"})
        assert api.status_code == 404 and api.json()["detail"]


def test_csv_exports_hold_every_matching_row_streamed(server: Running) -> None:
    today = clock.today()
    with server.ledger.store.engine.connect() as connection:
        _, count = list_whole(connection, Filters(since=today - dt.timedelta(days=29), until=today), limit=1)
    with closing(signed_in(server)) as client:
        response = client.get("/sessions", params={"csv": "sessions", "sort": "total_usd", "page": "3"})
        assert "content-length" not in response.headers  # streamed, a row at a time
        rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
        assert count > 50 and len(rows) == count
        totals = [float(r["total_usd"]) for r in rows]
        assert totals == sorted(totals, reverse=True)
        assert all(r["started_at"].endswith("Z") for r in rows)
        users = list(csv.DictReader(io.StringIO(client.get("/users", params={"csv": "users"}).text, newline="")))
        assert len(users) > 50  # every user, not the page shown
