"""`costledger demo` and `make demo`: its port checked first, its admin key kept, its config placed, a progress bar."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from costledger import Ledger
from costledger.config import load_config
from costledger.dashboard.serve import KEY_FILE, KEY_NAME, PortUnavailable, demo_admin_key, listen
from costledger.demo import record_workload
from costledger.keys import list_keys
from costledger.store import Store

COSTLEDGER = str(Path(sys.executable).with_name("costledger"))
NOW = dt.datetime(2026, 11, 20, 18, 30, tzinfo=dt.UTC)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COSTLEDGER_DB"}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "80"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_port_in_use_is_one_line_and_nothing_is_recorded(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([COSTLEDGER, "demo", "--days", "2", "--port", str(port)], cwd=tmp_path,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (f"costledger: port {port} on 127.0.0.1 is in use by another program; choose another: "
                           f"make demo PORT={port + 1}, or costledger demo --port {port + 1}\n")  # fmt: skip
    assert done.stdout == ""
    assert not (tmp_path / "costledger-demo").exists() and not (tmp_path / "costledger.toml").exists()


def test_listen_explains_what_it_cannot_do() -> None:
    with pytest.raises(PortUnavailable, match=r"cannot listen on no-such-host\.invalid: "):
        listen("no-such-host.invalid", 8000)
    if os.geteuid() != 0:  # root may bind low ports
        with pytest.raises(PortUnavailable, match="needs more privileges"):
            listen("127.0.0.1", 80)
    sock = listen("127.0.0.1", 0)
    sock.close()


def test_the_demo_keeps_its_admin_key_and_never_piles_them_up(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    key, again = demo_admin_key(database)
    assert not again and key.startswith("cl_admin_")
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert demo_admin_key(database) == (key, True)
    (tmp_path / KEY_FILE).unlink()  # lost: a new key, and the old one revoked
    other, again = demo_admin_key(database)
    assert other != key and not again
    store = Store(str(database))
    try:
        active = [k for k in list_keys(store, include_revoked=False) if k.name == KEY_NAME]
    finally:
        store.close()
    assert len(active) == 1 and active[0].prefix == other[:16]


def test_demo_serves_the_dashboard_on_the_port_asked_and_a_rerun_shows_the_same_key(tmp_path: Path) -> None:
    port = _free_port()

    def serve() -> tuple[str, subprocess.Popen[str]]:
        process = subprocess.Popen([COSTLEDGER, "demo", "--days", "2", "--port", str(port)], cwd=tmp_path,
                                   env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Admin key: "):
                break
        assert any(f"Dashboard: http://127.0.0.1:{port}/" in line for line in lines), lines
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        return lines[-1].removeprefix("Admin key: ").strip(), process

    first, process = serve()
    try:
        # The key shown is an active admin key of the ledger being served.
        api = httpx.get(f"http://127.0.0.1:{port}/v1/costs", headers={"Authorization": f"Bearer {first}"}, timeout=10)
        assert api.status_code == 200 and api.json()
        refused = httpx.get(f"http://127.0.0.1:{port}/v1/costs", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert refused.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    again, process = serve()
    try:
        assert again == first
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_user_config_is_kept_and_the_demo_config_goes_beside_its_ledger(tmp_path: Path) -> None:
    (tmp_path / "costledger.toml").write_text('database = "prod.db"\n', encoding="utf-8")
    done = subprocess.run([COSTLEDGER, "demo", "--no-serve", "--days", "2"], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "costledger.toml").read_text(encoding="utf-8") == 'database = "prod.db"\n'
    beside = tmp_path / "costledger-demo" / "costledger.toml"
    assert load_config(beside).database == str(tmp_path / "costledger-demo" / "ledger.db")
    assert f"--config {beside.relative_to(tmp_path)}" in done.stderr


def test_recording_reports_its_progress_day_by_day() -> None:
    seen: list[tuple[int, int]] = []
    with Ledger(":memory:") as ledger:
        record_workload(ledger, seed=1, days=5, now=NOW, batch=100, progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (5, 5) and len(seen) > 5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and {n for _, n in seen} == {5}


def test_make_demo_passes_port_and_host_and_installs_no_test_tools() -> None:
    done = subprocess.run(["make", "-n", "-B", "demo", "PORT=8123", "HOST=0.0.0.0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "costledger demo --host 0.0.0.0 --port 8123" in done.stdout
    installs = [line for line in done.stdout.splitlines() if "pip install" in line]
    assert installs and all("[dev]" not in line for line in installs)
