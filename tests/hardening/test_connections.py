"""Finding 5, slow clients: 400 sockets sending one byte every 5 s were never closed; 1,100
unauthenticated half-open sockets made a server limited to 1,024 files answer none of 10 health probes.

Now `costledger serve` gives a connection `--header-timeout` seconds for its request's headers (408,
closed) and `--body-timeout` for the body (closed), and keeps its connections under a cap below the file
limit, closing the one that has waited longest for headers when a new one comes.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.harness import COSTLEDGER, make_keys, restartable_port, wait_healthy

pytestmark = pytest.mark.timeout(180)


class Serve:
    def __init__(self, tmp_path: Path, files: int, *options: str) -> None:
        database = str(tmp_path / "ledger.db")
        self.keys = make_keys(database)
        self.port = restartable_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"

        def limit_files() -> None:  # the server's own limit, as the attack run had it
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        self.process = subprocess.Popen(
            [COSTLEDGER, "serve", "--port", str(self.port), "--db", database, "--log-level", "warning", *options],
            env={**os.environ, "COSTLEDGER_ALERT_DELIVERY": "off"}, stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=limit_files,
        )  # fmt: skip
        wait_healthy(self.url, 60, self.process)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started = Serve(tmp_path, 1024, "--header-timeout", "2", "--body-timeout", "3")
    try:
        yield started
    finally:
        started.stop()


def _open(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setblocking(False)
        out.append(sock)
    return out


def _closed(sock: socket.socket) -> bool:
    """The server closed it (EOF, or a reset), perhaps after a 408."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def _probes(url: str, n: int = 10) -> list[int]:
    out = []
    for _ in range(n):
        try:
            out.append(httpx.get(f"{url}/healthz", timeout=5).status_code)
        except httpx.HTTPError:
            out.append(0)
    return out


def test_slow_sockets_are_closed_and_health_probes_are_answered_meanwhile(serve: Serve) -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (before[1], before[1]))  # this test process opens 1,500 sockets
    slow = _open(serve.port, 400)
    try:
        for sock in slow:
            sock.send(b"G")  # a request, one byte at a time
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"E")
            assert _probes(serve.url, 2) == [200, 200]
            time.sleep(1)
        # Past the 2 s header timeout, every slow socket is closed, however it dribbles.
        time.sleep(1)
        assert sum(_closed(sock) for sock in slow) == 400
        # 1,100 half-open sockets against a server limited to 1,024 files: the probes still get in.
        idle = _open(serve.port, 1100)
        try:
            assert _probes(serve.url) == [200] * 10
        finally:
            for sock in idle:
                sock.close()
        # A body that never finishes is cut at the body timeout; the server logs no error for it.
        sock = socket.create_connection(("127.0.0.1", serve.port), timeout=10)
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + serve.keys.ingest.encode() + b"\r\ncontent-length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        assert sock.recv(4096) == b""  # closed
        assert 2.5 < time.monotonic() - started < 10
        sock.close()
        assert _probes(serve.url, 1) == [200]
        log = serve.log.read_text()
        assert "Traceback" not in log and "500" not in log, log[-3000:]
    finally:
        for sock in slow:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_a_connection_that_sends_its_headers_too_slowly_gets_a_408(serve: Serve) -> None:
    sock = socket.create_connection(("127.0.0.1", serve.port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")  # and never the blank line
    started = time.monotonic()
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert 1.5 < time.monotonic() - started < 8
    sock.close()
