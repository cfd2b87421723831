"""Fixtures for the integrations: the loopback provider server the examples use too."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, require

EXAMPLES = ROOT / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


def sdk(name: str) -> Any:
    """Import an SDK, skipping on a laptop without it (failing under CI=true)."""
    require(importlib.util.find_spec(name) is not None, f"the {name} package")
    return importlib.import_module(name)


@pytest.fixture
def providers() -> Iterator[Any]:
    from loopback_providers import LoopbackProviders

    with LoopbackProviders() as server:
        yield server


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, str, Any]]:
    """`costledger serve` on a loopback port over a fresh SQLite file: (url, ingest key, db path)."""
    import os
    import subprocess
    import time

    import httpx

    from costledger.keys import create_key
    from costledger.store import Store

    db = tmp_path / "served.db"
    store = Store(str(db))
    key, _ = create_key(store, "ingest", "otel test")
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).with_name("costledger")
    process = subprocess.Popen(
        [str(cli), "serve", "--db", str(db), "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "COSTLEDGER_ADMIN_KEY": ""},
    )
    try:
        deadline = time.monotonic() + 60  # a loaded CI box starts slowly
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("costledger serve did not start")
            time.sleep(0.1)
        yield url, key, db
    finally:
        process.terminate()
        process.wait(10)
