"""Finding 9, outages: PostgreSQL down or a full disk answered a bare 500 (no 503, no Retry-After, no
reason); /healthz stayed 200 on a full disk; `serve` could not start on a full disk when
COSTLEDGER_ADMIN_KEY was set; `keys create` printed a traceback there.

Now an outage is a 503 with Retry-After and a reason the client can log, /healthz says the storage
cannot write, `serve` starts and serves what is stored, and the CLI prints one line. The disk is a real
full filesystem (a 4 MB tmpfs); PostgreSQL goes down behind a TCP proxy the test cuts.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import PG_SERVER, require
from server.harness import COSTLEDGER, ServeProcess, make_keys, restartable_port

pytestmark = pytest.mark.timeout(240)
ADMIN = "outage-admin-key-0123456789abcdef"


def _event(i: int) -> dict[str, object]:
    return {"event_id": f"e-{uuid.uuid4().hex}-{i}", "service": "deepgram", "model": "nova-3",
            "usage": {"audio_seconds": 60}, "metadata": {"pad": "x" * 2000}}  # fmt: skip


def _post(url: str, key: str, n: int = 50) -> httpx.Response:
    return httpx.post(f"{url}/v1/events", json={"events": [_event(i) for i in range(n)]},
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip


def _assert_outage(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["detail"].startswith(("the storage", "the database")), answer.text


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem of 4 MB (tmpfs), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    require(done.returncode == 0, "a tmpfs mount (root) for a full disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of `disk`."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    with contextlib.suppress(OSError), filler.open("ab") as out:  # the last partial blocks
        for _ in range(64):
            out.write(b"\0" * 1024)
            out.flush()
    return filler


def test_a_full_disk_is_a_503_with_a_reason_and_serve_starts_anyway(small_disk: Path, tmp_path: Path) -> None:
    database = str(small_disk / "ledger.db")
    keys = make_keys(database)
    proc = ServeProcess(database, restartable_port(), 1, tmp_path / "serve.log",
                        {"COSTLEDGER_ADMIN_KEY": ADMIN, "COSTLEDGER_ALERT_DELIVERY": "off"})  # fmt: skip
    proc.start()
    try:
        assert _post(proc.url, keys.ingest).status_code == 200
        filler = _fill(small_disk)
        for _ in range(5):
            answer = _post(proc.url, keys.ingest)
            if answer.status_code != 200:  # what SQLite had room for in its WAL went in first
                break
        _assert_outage(answer)
        time.sleep(2.5)  # past the health probe's cache
        health = httpx.get(f"{proc.url}/healthz", timeout=30)
        _assert_outage(health)
        assert "cannot write" in health.json()["detail"]
        # Reads still answer, and `serve` restarts on the full disk with its admin key set.
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert httpx.get(f"{proc.url}/v1/costs", headers=admin, timeout=30).status_code == 200
        proc.kill()
        proc.start(wait=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{proc.url}/v1/costs", headers=admin, timeout=5).status_code == 200:
                    break
            assert proc.process is not None and proc.process.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        else:
            raise AssertionError("serve did not come up on the full disk")
        # `keys create` says so in one line.
        created = subprocess.run([COSTLEDGER, "keys", "create", "--name", "x", "--db", database],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
        assert created.returncode == 1 and "Traceback" not in created.stderr, created.stderr
        assert created.stderr.strip().count("\n") == 0 and "storage is unavailable" in created.stderr
        # Space again: writes go in, health is back.
        filler.unlink()
        assert _post(proc.url, keys.ingest).status_code == 200
        time.sleep(2.5)
        assert httpx.get(f"{proc.url}/healthz", timeout=30).status_code == 200
        log = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in log, log[-3000:]
    finally:
        proc.kill()


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut (PostgreSQL down) and mend."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = restartable_port()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it; close() alone does not
            self._listener.close()
            self._listener = None
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._open.clear()


def test_postgresql_down_is_a_503_with_a_reason(pg_url: str, tmp_path: Path) -> None:
    host_port = PG_SERVER.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = Proxy((host, int(port)))
    proxy.start()
    url = pg_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    keys = make_keys(url)
    proc = ServeProcess(url, restartable_port(), 1, tmp_path / "serve.log", {"COSTLEDGER_ALERT_DELIVERY": "off"})
    proc.start()
    try:
        assert _post(proc.url, keys.ingest).status_code == 200
        proxy.cut()
        _assert_outage(_post(proc.url, keys.ingest))
        admin = {"Authorization": f"Bearer {keys.admin}"}
        _assert_outage(httpx.get(f"{proc.url}/v1/costs", headers=admin, timeout=60))
        time.sleep(2.5)
        _assert_outage(httpx.get(f"{proc.url}/healthz", timeout=60))
        proxy.start()  # PostgreSQL is back
        deadline = time.monotonic() + 30
        while _post(proc.url, keys.ingest).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        costs = httpx.get(f"{proc.url}/v1/costs", headers=admin, timeout=60).json()
        assert costs["events"] >= 100
        log = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in log, log[-3000:]
    finally:
        proc.kill()
        proxy.cut()
