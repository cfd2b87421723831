"""The dashboard on the demo data: every page's server time and bytes on the wire, in one run.

Ours: each page of the real app (costledger.server.app with the dashboard router) from a real
uvicorn over loopback HTTP, signed in with the login cookie, on the 90 days `costledger demo`
records (seed 7: about 35,000 events, 2,700 sessions, 160 users). Warm medians of RUNS requests;
the filter choices are cached for a minute, as in production, and the first (cold) request of
each page is printed apart.

Baselines, same server, same run:
- time: `GET /healthz` (the HTTP round trip and the framework with no work), so the ratio says
  how many round trips a page costs; the goal is each page under 300 ms;
- bytes: the same response without compression (Accept-Encoding: identity), and for the first
  load of the overview (the page, its CSS, script, icon and charting library, nothing cached) the
  page with plotly's full bundle uncompressed, which is what the dashboard sent before; the goal
  is a first load under 1.5 MB.

Optionally, COSTLEDGER_BENCH_SIZES=10k,1M also times the overview on stores made by the bulk path
of bench/queries.py against the overview's figures by raw GROUP BY (the earlier benchmark).

    python -m bench.dashboard
"""

from __future__ import annotations

import functools
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import httpx

from bench import queries as bulk
from costledger import clock

RUNS = 15
PAGE_GOAL_MS = 300.0
FIRST_LOAD_GOAL = 1_500_000
PAGES = ("/", "/sessions", "/sessions?sort=total_usd", "/users", "/agents", "/margins", "/alerts", "/prices",
         "/session-types", "/?since={first_of_last_month}&until={last_of_last_month}", "/sessions/{session}",
         "/sessions?csv=sessions")  # fmt: skip
SIZES = {"10k": 10_000, "1M": 1_000_000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def serving(database: Path, config: Path | None = None) -> Iterator[httpx.Client]:
    """A signed-in client of a real uvicorn serving the app on `database`."""
    import uvicorn

    from costledger.dashboard import auth
    from costledger.keys import create_key
    from costledger.server.app import create_app
    from costledger.store import Store

    store = Store(str(database))
    key, _ = create_key(store, "admin", "bench")
    store.close()
    app = create_app(str(database), config=str(config) if config else None)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            client.get("/login")
            client.post("/login", data={"key": key, "csrf": client.cookies[auth.LOGIN_CSRF_COOKIE], "next": "/"})
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def timed(get: Callable[[], httpx.Response], runs: int = RUNS) -> tuple[float, float, float]:
    """(cold first ms, warm median ms, warm median CPU ms) of a request.

    The CPU time is the process's (the server runs in it, on uvicorn's threads; the client's share
    is small): on a machine shared with other jobs it moves far less than the wall time.
    """
    start = time.perf_counter()
    response = get()
    cold = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    samples, cpu = [], []
    for _ in range(runs):
        start, started_cpu = time.perf_counter(), time.process_time()
        response = get()
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200
    return cold * 1000, _median_ms(samples), _median_ms(cpu)


def wire_bytes(client: httpx.Client, path: str, encoding: str) -> int:
    with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        return sum(len(chunk) for chunk in response.iter_raw())


def first_load(client: httpx.Client, encoding: str) -> int:
    """The overview and every asset it links, as a browser with an empty cache fetches them."""
    html = client.get("/", headers={"Accept-Encoding": "identity"}).text
    links = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)))
    return wire_bytes(client, "/", encoding) + sum(wire_bytes(client, link, encoding) for link in links)


def demo_pages(folder: Path) -> None:
    from costledger import Ledger
    from costledger.demo import record_workload, write_config

    database, config = folder / "demo.db", folder / "costledger.toml"
    today = clock.today()
    write_config(config, today, 90)
    started = time.perf_counter()
    with Ledger(database, config=config) as ledger:
        recorded = record_workload(ledger, seed=7, days=90)
        session = ledger.sessions(sort="cost", limit=1)[0][0].session_id
    print(f"# demo: {recorded.accepted:,} events recorded in {time.perf_counter() - started:.0f} s; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    first = today.replace(day=1)
    last_month_end = first.fromordinal(first.toordinal() - 1)
    values = {"first_of_last_month": last_month_end.replace(day=1).isoformat(),
              "last_of_last_month": last_month_end.isoformat(), "session": session}  # fmt: skip
    with serving(database, config) as client:
        _, floor, floor_cpu = timed(lambda: client.get("/healthz"))
        print(f"baseline GET /healthz: {floor:6.1f} ms, CPU {floor_cpu:.1f} ms (medians of {RUNS})", flush=True)
        worst = 0.0
        for template in PAGES:
            path = template.format(**values)
            cold, warm, cpu = timed(functools.partial(client.get, path))
            gzipped, plain = wire_bytes(client, path, "gzip"), wire_bytes(client, path, "identity")
            worst = max(worst, warm)
            print(f"page {path[:44]:<44} ours {warm:7.1f} ms (CPU {cpu:6.1f}, cold {cold:5.0f})  baseline /healthz "
                  f"{floor:5.1f} ms  ratio {warm / floor:5.1f}x  goal <= {PAGE_GOAL_MS:.0f} ms: "
                  f"{'met' if warm <= PAGE_GOAL_MS else 'NOT met'}   bytes gzip {gzipped:>9,} / plain {plain:>9,}"
                  f"  ratio {plain / gzipped:4.1f}x", flush=True)  # fmt: skip
        ours, plain = first_load(client, "gzip"), first_load(client, "identity")
    full = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")).stat().st_size
    from costledger.dashboard.assets import CHARTS, asset

    charts = asset(CHARTS)
    assert charts is not None
    before = plain - len(charts.body) + full  # the same page with the full bundle, uncompressed, as before
    print(f"first load of the overview ({charts.origin}): ours {ours:,} bytes  baseline full plotly uncompressed "
          f"{before:,} bytes  ratio {before / ours:.1f}x  (uncompressed ours {plain:,})  goal < {FIRST_LOAD_GOAL:,}: "
          f"{'met' if ours < FIRST_LOAD_GOAL else 'NOT met'}", flush=True)  # fmt: skip
    verdict = "met" if worst <= PAGE_GOAL_MS else "NOT met"
    print(f"slowest page {worst:.1f} ms; goal <= {PAGE_GOAL_MS:.0f} ms: {verdict}")


def bulk_overview(label: str, n: int, folder: Path) -> None:
    from costledger.store import Store

    path = folder / f"dashboard-{label}.db"
    store = Store(str(path))
    try:
        with store.engine.begin() as connection:
            bulk.generate_sqlite(connection, n)
            bulk.build_rollups(connection)
    finally:
        store.close()
    with serving(path) as client:
        cold, ours, _ = timed(lambda: client.get("/"))
    store = Store(str(path))
    baseline = []
    with store.engine.connect() as connection:
        for _ in range(max(3, RUNS // 3)):
            t0 = time.perf_counter()
            bulk.raw_overview(connection, bulk.TODAY)
            baseline.append(time.perf_counter() - t0)
    store.close()
    base = _median_ms(baseline)
    print(f"dashboard overview page  {label:>4} events (bulk): ours {ours:8.1f} ms (cold {cold:.0f} ms)  baseline raw "
          f"GROUP BY {base:8.1f} ms  ratio {base / ours:6.1f}x", flush=True)  # fmt: skip


def main() -> None:
    bulk.TODAY = clock.today()
    with tempfile.TemporaryDirectory(prefix="costledger-bench-dashboard-") as folder:
        demo_pages(Path(folder))
        for label in filter(None, (s.strip() for s in os.environ.get("COSTLEDGER_BENCH_SIZES", "").split(","))):
            if label not in SIZES:
                raise SystemExit(f"unknown size {label!r}; choose from {', '.join(SIZES)}")
            bulk_overview(label, SIZES[label], Path(folder))


if __name__ == "__main__":
    main()
