"""Fixtures of the hardening suite: each test replays one finding of the attack and fault run (issue 18)
against real parts — SQLite files, the real PostgreSQL, servers over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server.harness import ThreadServer, start_thread_server, stop_thread_server


@pytest.fixture
def server(store_url: str) -> Iterator[ThreadServer]:
    """The API over loopback on each backend (store_url: tests/conftest.py)."""
    running = start_thread_server(store_url)
    try:
        yield running
    finally:
        stop_thread_server(running)


def signed_in(url: str, admin_key: str) -> httpx.Client:
    """An HTTP client signed in to the dashboard with `admin_key` (the login form, its CSRF cookie)."""
    from costledger.dashboard import auth

    client = httpx.Client(base_url=url, timeout=60)
    client.get("/login")
    token = client.cookies[auth.LOGIN_CSRF_COOKIE]
    answer = client.post("/login", data={"key": admin_key, "csrf": token, "next": "/"})
    assert answer.status_code == 303, answer.text
    return client
