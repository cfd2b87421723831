"""Login, cookies and CSRF over real HTTP against the real server (no browser needed)."""

from __future__ import annotations

import csv
import io
from contextlib import closing
from decimal import Decimal

import httpx
import pytest

from costledger import clock
from costledger.dashboard import auth
from costledger.keys import KeyVerifier, create_key, revoke_key
from costledger.store import Store

from .conftest import Running

pytestmark = pytest.mark.timeout(120)
PAGES = ("/", "/sessions", "/users", "/agents", "/prices", "/session-types", "/alerts", "/margins")


def signed_in(server: Running, key: str | None = None) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    client.get("/login")
    token = client.cookies[auth.LOGIN_CSRF_COOKIE]
    response = client.post("/login", data={"key": key or server.admin_key, "csrf": token, "next": "/sessions"})
    assert response.status_code == 303 and response.headers["location"] == "/sessions"
    return client


def csrf_of(client: httpx.Client) -> str:
    html = client.get("/prices").text
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_no_page_and_no_csv_without_login(server: Running) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path in (*PAGES, "/?csv=services", "/sessions/anything"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        # An API key in a header does not open the dashboard either: it needs the login cookie.
        assert client.get("/", headers={"Authorization": f"Bearer {server.admin_key}"}).status_code == 303
        assert client.get("/login").status_code == 200


def test_login_needs_its_csrf_token_and_an_active_admin_key(server: Running) -> None:
    with httpx.Client(base_url=server.url) as client:
        client.get("/login")
        forged = client.post("/login", data={"key": server.admin_key, "csrf": "guessed", "next": "/"})
        assert forged.status_code == 401 and auth.COOKIE not in client.cookies
        token = client.cookies[auth.LOGIN_CSRF_COOKIE]
        wrong = client.post("/login", data={"key": "cl_admin_wrong", "csrf": token, "next": "/"})
        assert wrong.status_code == 401 and "not an active admin key" in wrong.text
        ingest = client.post("/login", data={"key": server.ingest_key, "csrf": token, "next": "/"})
        assert ingest.status_code == 401 and auth.COOKIE not in client.cookies


def test_login_never_redirects_off_site(server: Running) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        with httpx.Client(base_url=server.url) as client:
            client.get("/login")
            token = client.cookies[auth.LOGIN_CSRF_COOKIE]
            response = client.post("/login", data={"key": server.admin_key, "csrf": token, "next": target})
            assert response.headers["location"] == "/"


def test_logout_and_acknowledging_alerts_need_the_csrf_token(server: Running) -> None:
    with closing(signed_in(server)) as client:
        assert client.post("/logout", data={"csrf": "nope"}).status_code == 403
        assert client.post("/alerts/ack", data={"csrf": "nope", "alert_id": "1"}).status_code == 403
        assert client.get("/").status_code == 200  # still signed in
        token = csrf_of(client)
        done = client.post("/logout", data={"csrf": token})
        assert done.status_code == 303 and auth.COOKIE not in client.cookies


def test_a_forged_expired_or_revoked_cookie_opens_nothing(server: Running) -> None:
    with closing(signed_in(server)) as client:
        good = client.cookies[auth.COOKIE]
    key_id, expires, nonce, signature = good.split(".")
    tampered = [
        f"{key_id}.{int(expires) + 3600}.{nonce}.{signature}",  # a longer life, same signature
        f"{int(key_id) + 1}.{expires}.{nonce}.{signature}",  # another key
        f"{key_id}.{expires}.{nonce}.{signature[:-2]}AA",
        "garbage",
    ]
    for value in tampered:
        with httpx.Client(base_url=server.url, cookies={auth.COOKIE: value}) as client:
            assert client.get("/").status_code == 303, value
    store = Store(str(server.db))
    try:
        assert auth.check_cookie(store, good) is not None
        assert auth.check_cookie(store, good, now=clock.timestamp() + auth.LIFETIME_SECONDS + 5) is None
        key, stored = create_key(store, "admin", "short-lived")
        login = auth.log_in(KeyVerifier(store), key)
        assert login is not None
        revoke_key(store, str(stored.id))
        with httpx.Client(base_url=server.url, cookies={auth.COOKIE: login[1]}) as client:
            assert client.get("/").status_code == 303  # revoking the key signs its browsers out
    finally:
        store.close()


def test_csv_export_is_exact_and_nothing_else_is_served_from_the_package(server: Running) -> None:
    with closing(signed_in(server)) as client:
        response = client.get("/sessions", params={"sort": "metered_usd", "csv": "sessions"})
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        top = server.ledger.session_summary(rows[0]["session_id"])
        assert Decimal(rows[0]["metered_usd"]) == top.cost_usd  # every stored decimal place, not cents
        assert client.get("/?csv=no-such-table").status_code == 404
        assert client.get("/assets/../routes.py").status_code == 404
        assert client.get("/assets/routes.py").status_code == 404
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200, path
            assert "cdn" not in page.text.lower() and "https://" not in page.text.split("<main>")[0]
