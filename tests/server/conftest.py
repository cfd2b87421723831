"""Fixtures: the API over loopback (uvicorn in a thread) and `costledger serve` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import ServeProcess, ThreadServer, restartable_port, start_thread_server, stop_thread_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    """The API over loopback on a fresh SQLite file."""
    running = start_thread_server(str(tmp_path / "server.db"))
    try:
        yield running
    finally:
        stop_thread_server(running)


@pytest.fixture
def pg_server_app(pg_url: str) -> Iterator[ThreadServer]:
    running = start_thread_server(pg_url)
    try:
        yield running
    finally:
        stop_thread_server(running)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Any]:
    """A factory of `costledger serve` processes; every one is killed at the end, pass or fail."""
    started: list[ServeProcess] = []

    def start(database: str, workers: int = 1, **env: str) -> ServeProcess:
        proc = ServeProcess(database, restartable_port(), workers, tmp_path / f"serve-{len(started)}.log", env)
        started.append(proc)
        proc.start()
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.kill()
