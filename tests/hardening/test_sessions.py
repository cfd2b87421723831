"""Finding 6, dashboard sessions: a cookie still worked after sign-out for the rest of its 12 h; with
COSTLEDGER_SECRET unset (the default), anyone who could read api_keys.key_hash could forge an admin
cookie with any expiry (a year-3000 cookie worked).

Now each sign-in is a session row (its nonce hashed) that signing out revokes; the expiry is the one
issued, at most 12 h; and without COSTLEDGER_SECRET a random secret is made and kept in the data
directory, so the database alone cannot sign a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from costledger import clock
from costledger.dashboard import auth
from costledger.store import Store
from costledger.store.schema import api_keys
from server.harness import ThreadServer, start_thread_server, stop_thread_server

from .conftest import signed_in


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadServer]:
    monkeypatch.delenv(auth.SECRET_ENV, raising=False)
    running = start_thread_server(str(tmp_path / "ledger.db"))
    try:
        yield running
    finally:
        stop_thread_server(running)


def _opens(url: str, cookie: str) -> bool:
    with httpx.Client(base_url=url, cookies={auth.COOKIE: cookie}) as client:
        answer = client.get("/")
        assert answer.status_code in (200, 303), answer.text
        return answer.status_code == 200


def _sign(key: bytes, message: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, message.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def test_signing_out_revokes_the_cookie_everywhere(server: ThreadServer) -> None:
    with closing(signed_in(server.url, server.keys.admin)) as browser:
        cookie = browser.cookies[auth.COOKIE]
        assert _opens(server.url, cookie)  # a copy of it works, as the browser's own does
        page = browser.get("/prices").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
    assert not _opens(server.url, cookie)


def test_the_database_alone_cannot_make_a_cookie_and_expiry_is_as_issued(server: ThreadServer, tmp_path: Path) -> None:
    store = Store(server.database)
    try:
        with store.engine.connect() as connection:
            key_id, key_hash = connection.execute(
                select(api_keys.c.id, api_keys.c.key_hash).where(api_keys.c.name == "test admin")
            ).one()
        # What reading api_keys used to be enough for: a cookie signed under the hash alone, for year 3000.
        forged_key = hmac.new(b"", f"costledger-dashboard:{key_hash}".encode(), hashlib.sha256).digest()
        for expires in (32503680000, int(clock.timestamp()) + 3600):
            payload = f"{key_id}.{expires}.forged-nonce"
            assert not _opens(server.url, f"{payload}.{_sign(forged_key, payload)}"), expires
        with closing(signed_in(server.url, server.keys.admin)) as browser:
            key_part, expires_part, nonce, _ = browser.cookies[auth.COOKIE].split(".")
        # The secret that signs cookies is random, kept beside the ledger, readable by its owner only.
        secret = tmp_path / auth.SECRET_FILE
        assert len(secret.read_bytes().strip()) == 64
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        # Even with that secret, a real sign-in's cookie cannot be stretched past the expiry it was issued with.
        signing = hmac.new(secret.read_bytes().strip(), f"costledger-dashboard:{key_hash}".encode(),
                           hashlib.sha256).digest()  # fmt: skip
        genuine = f"{key_part}.{expires_part}.{nonce}"
        assert _opens(server.url, f"{genuine}.{_sign(signing, genuine)}")
        for longer in (int(expires_part) + 3600, 32503680000):
            stretched = f"{key_part}.{longer}.{nonce}"
            assert not _opens(server.url, f"{stretched}.{_sign(signing, stretched)}"), longer
    finally:
        store.close()
