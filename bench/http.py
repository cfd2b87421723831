"""HTTP: ingest events/s through `costledger serve` vs `Ledger.record_many` directly; `Client.record()` µs.

1. The same workload (bench.ingest) into PostgreSQL, batches of 500: POSTed over
   loopback to `costledger serve --workers 2` by four sender threads, vs two processes
   calling `Ledger.record_many` directly at once, each on half of the events (the
   baseline: the server's own work, with as many processes, without HTTP), so the ratio
   is what HTTP costs and not how many processes work. Bodies (and the direct processes'
   events) are ready before the clock starts; every run uses a fresh schema.
2. The server's resident memory under that load (largest process, and all of them).
3. `Client.record()` median on the caller's thread vs a plain `list.append` of the same
   dict (the baseline), each call timed alone, with the thread's CPU time (a busy machine
   stretches the wall time, not the CPU time); then the same with a server taking the
   events, the sender thread delivering meanwhile.

Runnable as `python -m bench http` or `python -m bench.http`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.ingest import _drop, _pg_schema, workload

BATCH = 500
HTTP_EVENTS = 20_000
SENDERS = 4
WORKERS = 2
RECORD_CALLS = 20_000
REPEATS = 3
ADMIN = "bench-admin-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _direct_worker(url: str, path: str, start: Any, done: Any) -> None:
    """One direct process: its share of the events into `url` through record_many, timed from `start`."""
    from costledger import Ledger
    from costledger.config import Config

    batches: list[list[dict[str, Any]]] = json.loads(Path(path).read_text())
    with Ledger(url, config=Config()) as ledger:
        ledger.record_many(batches[0][:1])  # connected, the catalog loaded: as warm as a server worker
        start.wait()
        batches[0] = batches[0][1:]
        for batch in batches:
            ledger.record_many(batch)
        done.put(time.monotonic())


def direct(url: str, events: list[dict[str, Any]], processes: int = WORKERS) -> float:
    """events/s of `processes` processes calling Ledger.record_many at once, the batches dealt out in turn
    as over_http's sender threads deal them (alternate events would make both write the same sessions)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, done = context.Event(), context.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(processes):
            paths.append(str(Path(tmp) / f"part{i}.json"))
            batches = [events[j : j + BATCH] for j in range(0, len(events), BATCH)]
            Path(paths[-1]).write_text(json.dumps(batches[i::processes]))
        workers = [context.Process(target=_direct_worker, args=(url, p, start, done)) for p in paths]
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        deadline = time.monotonic() + 120
        # Every process ready (its first event recorded) before the clock starts: as the server's workers are.
        while _count_events(url) < processes and time.monotonic() < deadline:
            time.sleep(0.1)
        began = time.monotonic()
        start.set()
        ends: list[float] = [done.get(timeout=600) for _ in workers]
        for worker in workers:
            worker.join(30)
            if worker.exitcode != 0:
                raise RuntimeError(f"a direct record_many process failed (exit {worker.exitcode})")
    return (len(events) - processes) / (max(ends) - began)


def _count_events(url: str) -> int:
    import psycopg

    from bench.ingest import PG_SERVER

    schema = url.split("search_path%3D", 1)[1]
    with psycopg.connect(PG_SERVER) as connection:
        try:
            return int(connection.execute(f'SELECT count(*) FROM "{schema}".events').fetchone()[0])  # type: ignore[index]
        except psycopg.errors.UndefinedTable:
            return 0


@contextmanager
def serving(url: str, workers: int = WORKERS) -> Iterator[tuple[str, int]]:
    """`costledger serve --workers N` on `url`: its base URL and process group, stopped afterwards."""
    import httpx

    port = _free_port()
    env = {**os.environ, "COSTLEDGER_ADMIN_KEY": ADMIN, "COSTLEDGER_ALERT_DELIVERY": "off"}
    exe = str(Path(sys.executable).with_name("costledger"))
    server = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", str(workers), "--db", url, "--log-level", "warning"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("costledger serve did not start")
            time.sleep(0.1)
        yield base, server.pid
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def over_http(url: str, events: list[dict[str, Any]]) -> tuple[float, int, int]:
    """events/s, largest server process RSS (KiB), all server processes RSS (KiB)."""
    import httpx

    with serving(url) as (base, pgid):
        bodies = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)]
        headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:  # warm both workers up
            for _ in range(4):
                http.get("/v1/costs/daily?days=1")
        peak = [0, 0]
        finished = threading.Event()

        def sample() -> None:
            while not finished.is_set():
                sizes = [_rss_kib(p) for p in _group_pids(pgid)]
                peak[0] = max(peak[0], max(sizes, default=0))
                peak[1] = max(peak[1], sum(sizes))
                time.sleep(0.2)

        failures: list[str] = []

        def send(part: list[bytes]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                for body in part:
                    response = http.post("/v1/events", content=body)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=send, args=(bodies[i::SENDERS],)) for i in range(SENDERS)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        finished.set()
        sampler.join()
        if failures:
            raise RuntimeError(f"{len(failures)} batches refused, first: {failures[0]}")
        return len(events) / elapsed, peak[0], peak[1]


def bench_ingest() -> None:
    events = workload(HTTP_EVENTS)
    baselines, rates, largest, total = [], [], 0, 0
    # Interleaved, each on a fresh schema: a machine busy for a while slows both alike.
    for _ in range(REPEATS):
        made = _pg_schema()
        if made is None:
            return
        schema, url = made
        try:
            from costledger.store import Store

            Store(url).close()  # the schema made before the processes start, as `serve` makes it
            baselines.append(direct(url, events))
        finally:
            _drop(schema)
        made = _pg_schema()
        if made is None:
            return
        schema, url = made
        try:
            rate, big, whole = over_http(url, events)
        finally:
            _drop(schema)
        rates.append(rate)
        largest, total = max(largest, big), max(total, whole)
    rate, baseline = statistics.median(rates), statistics.median(baselines)
    print(
        f"http ingest postgresql: {rate:,.0f} events/s over loopback ({WORKERS} server workers, {SENDERS} sender "
        f"threads), {WORKERS} processes calling Ledger.record_many directly {baseline:,.0f} events/s (baseline), "
        f"{rate / baseline:.2f}x  [goal >= 20,000/s; {len(events):,} events, batches of {BATCH}, "
        f"median of {REPEATS}, {os.cpu_count()} cores]"
    )
    print(
        f"http server rss under load: largest process {largest / 1024:,.0f} MB (one worker), all "
        f"{total / 1024:,.0f} MB (supervisor + {WORKERS} workers)  [goal <= 200 MB]"
    )


def _timed_records(client: Any, fields: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Each record() call's wall time and the caller thread's CPU time in it (ns)."""
    wall: list[int] = []
    cpu: list[int] = []
    for _ in range(RECORD_CALLS):
        started, used = time.perf_counter_ns(), time.thread_time_ns()
        client.record("anthropic", "claude-sonnet-4-20250514", **fields)
        cpu.append(time.thread_time_ns() - used)
        wall.append(time.perf_counter_ns() - started)
    return wall, cpu


def bench_client_record() -> None:
    from costledger import Client
    from costledger.events import parse_events
    from costledger.ledger import build_event

    fields = {"input_tokens": 8000, "output_tokens": 350, "session_id": "room-42", "agent": "scholar"}
    with tempfile.TemporaryDirectory() as tmp:
        # No server: the sender retries in the background, as it would while one is down.
        client = Client(f"http://127.0.0.1:{_free_port()}", "k", outbox=Path(tmp) / "outbox.db", interval=3600)
        ours, ours_cpu = _timed_records(client, fields)
        client.close(timeout=0)
        sink: list[dict[str, Any]] = []
        base: list[int] = []
        event = {"service": "anthropic", "model": "claude-sonnet-4-20250514", **fields}
        for _ in range(RECORD_CALLS):
            start = time.perf_counter_ns()
            sink.append(event)
            base.append(time.perf_counter_ns() - start)
        # Validation alone, the same event: what of record() is parse_events and what is the
        # rest (building the event, its JSON, the outbox commit).
        checks: list[int] = []
        for _ in range(RECORD_CALLS):
            built = [build_event("anthropic", "claude-sonnet-4-20250514", fields, {})]
            start = time.perf_counter_ns()
            parse_events(built)
            checks.append(time.perf_counter_ns() - start)
    a, b = statistics.median(ours) / 1000, statistics.median(base) / 1000
    v, c = statistics.median(checks) / 1000, statistics.median(ours_cpu) / 1000
    print(
        f"client record: Client.record() median {a:.1f} µs on the caller's thread (validated, durable in the "
        f"outbox), list.append {b:.2f} µs (baseline), {a / b:,.0f}x  [goal <= 20 µs; {RECORD_CALLS:,} calls; "
        f"the thread's CPU time {c:.1f} µs]; of which validation (parse_events alone) {v:.1f} µs, "
        f"the rest {a - v:.1f} µs"
    )
    live = _pg_schema()
    if live is None:
        return
    schema, url = live
    try:
        with serving(url, workers=1) as (address, _), tempfile.TemporaryDirectory() as tmp:
            client = Client(address, ADMIN, outbox=Path(tmp) / "outbox.db")
            wall, cpu = _timed_records(client, fields)
            delivered = client.flush(60)
            client.close()
    finally:
        _drop(schema)
    m, mean, m_cpu = statistics.median(wall) / 1000, statistics.mean(wall) / 1000, statistics.median(cpu) / 1000
    slow = sorted(wall)[int(len(wall) * 0.99)] / 1000
    print(
        f"client record with a server taking the events: Client.record() median {m:.1f} µs (CPU {m_cpu:.1f} µs), "
        f"mean {mean:.1f} µs, p99 {slow:,.0f} µs while the sender delivers; without a server median {a:.1f} µs "
        f"(baseline), {m / a:.2f}x  [{RECORD_CALLS:,} calls, 1 server worker on this machine; "
        f"{'all delivered' if delivered else 'NOT all delivered'}]"
    )


def main() -> None:
    bench_client_record()
    bench_ingest()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
