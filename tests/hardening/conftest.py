"""Fixtures of the hardening suite: each test replays one finding of the attack and fault run (issue 18)
against real parts — SQLite files, the real PostgreSQL, servers over loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def signed_in(url: str, admin_key: str) -> httpx.Client:
    """An HTTP client signed in to the dashboard with `admin_key` (the login form, its CSRF cookie)."""
    from costledger.dashboard import auth

    client = httpx.Client(base_url=url, timeout=60)
    client.get("/login")
    token = client.cookies[auth.LOGIN_CSRF_COOKIE]
    answer = client.post("/login", data={"key": admin_key, "csrf": token, "next": "/"})
    assert answer.status_code == 303, answer.text
    return client
