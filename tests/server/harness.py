"""A real costledger server over loopback: uvicorn in a thread (fast) or `costledger serve` (a process).

Shared by tests/server/ and tests/test_client.py."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
COSTLEDGER = str(Path(sys.executable).with_name("costledger"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def restartable_port() -> int:
    """A free port outside the kernel's ephemeral range, for a server that is stopped and started again.

    While such a server is down, any outgoing connection on the machine (the client's own retries,
    a PostgreSQL connection, another test) may be given its port as the local end, and the restart
    then fails to bind it (EADDRINUSE: the server exited 1). No connection is ever given a port
    outside the ephemeral range.
    """
    ephemeral = _ephemeral_ports()
    candidates = [p for p in range(20000, 32768) if p not in ephemeral] or list(range(10000, 20000))
    for port in random.sample(candidates, len(candidates)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port outside the ephemeral range")


def wait_healthy(url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


@dataclass
class Keys:
    admin: str
    ingest: str
    revoked: str
    wrong: str = "cl_admin_this-key-was-never-created-anywhere"

    def headers(self, who: str) -> dict[str, str]:
        key = {"admin": self.admin, "ingest": self.ingest, "revoked": self.revoked, "wrong": self.wrong}.get(who)
        return {"Authorization": f"Bearer {key}"} if key else {}


def make_keys(database: str) -> Keys:
    from costledger.keys import create_key, revoke_key
    from costledger.store import Store

    store = Store(database)
    try:
        admin, _ = create_key(store, "admin", "test admin")
        ingest, _ = create_key(store, "ingest", "test ingest")
        revoked, stored = create_key(store, "admin", "revoked admin")
        revoke_key(store, str(stored.id))
    finally:
        store.close()
    return Keys(admin=admin, ingest=ingest, revoked=revoked)


@dataclass
class ThreadServer:
    url: str
    database: str
    keys: Keys
    app: Any
    server: Any
    thread: threading.Thread

    def client(self, who: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.keys.headers(who), timeout=30)


def start_thread_server(database: str) -> ThreadServer:
    import uvicorn

    from costledger.server.app import create_app

    keys = make_keys(database)
    app = create_app(database)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return ThreadServer(url, database, keys, app, server, thread)


def stop_thread_server(running: ThreadServer) -> None:
    running.server.should_exit = True
    running.thread.join(timeout=15)


@dataclass
class ServeProcess:
    """`costledger serve` in a process of its own, restartable on the same port and database."""

    database: str
    port: int
    workers: int = 1
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None
        env = {**os.environ, **self.env}
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [COSTLEDGER, "serve", "--port", str(self.port), "--workers", str(self.workers), "--db", self.database,
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        if wait:
            wait_healthy(self.url, 60, self.process)

    def kill(self) -> None:
        """kill -9 the whole process group: the server and its workers die mid-request."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
