"""A costledger server over loopback with [stripe] and [twilio] configured, and Stripe's API faked on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.conftest import serve_process  # `costledger serve` processes, killed at the end
from server.harness import ThreadServer, start_thread_server, stop_thread_server

from .payloads import STRIPE_SECRET, TWILIO_TOKEN

PLANS = """
[[plans]]
name = "creator"
price_usd = "29"
included_sessions = 100

[[plans]]
name = "professional"
price_usd = "99"
included_sessions = 400
"""


def config_text(stripe_extra: str = "", twilio_extra: str = "") -> str:
    return (
        f'{PLANS}\n[stripe]\nwebhook_secret = "{STRIPE_SECRET}"\n{stripe_extra}\n'
        f'[twilio]\nauth_token = "{TWILIO_TOKEN}"\n{twilio_extra}\n'
    )


Start = Callable[..., ThreadServer]
__all__ = ["Start", "config_text", "serve_process", "webhook_server"]


@pytest.fixture
def webhook_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start a server with `config_text(...)` (or the given text) as its costledger.toml."""
    started: list[ThreadServer] = []

    def start(text: str | None = None, **parts: str) -> ThreadServer:
        path = tmp_path / f"costledger-{len(started)}.toml"
        path.write_text(text if text is not None else config_text(**parts), encoding="utf-8")
        monkeypatch.setenv("COSTLEDGER_CONFIG", str(path))
        running = start_thread_server(str(tmp_path / f"webhooks-{len(started)}.db"))
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            stop_thread_server(running)
