"""Receivers on loopback for the channels (an HTTP server that records what it got) and helpers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from costledger import Ledger
from costledger.config import parse_config


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that stores each request and answers with the next planned status."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once exhausted
    got: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec = holder[0]
            status = rec.statuses.pop(0) if rec.statuses else 200
            rec.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "status": status})
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"try later")
            rec.got.set()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def ledger_with(target: str | Path, toml: str = "") -> Ledger:
    return Ledger(target, config=parse_config(toml))


def cost_event(usd: str, ts: str = "2026-11-20T10:00:00Z", **fields: Any) -> dict[str, Any]:
    """An event with a known cost (as a tracker reports it), so figures are exact and obvious."""
    return {"service": fields.pop("service", "anthropic"), "model": "claude-sonnet-4-20250514", "cost_usd": usd,
            "ts": ts, "usage": {"input_tokens": 1}, **fields}  # fmt: skip


def body(request: dict[str, Any]) -> Any:
    return json.loads(request["body"])
