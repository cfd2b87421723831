"""The dashboard's overview page at 10k and 1M events: server time vs a raw GROUP BY, in one run.

Ours: `GET /` of the real app (costledger.server.app with the dashboard router) over
loopback HTTP from a real uvicorn, signed in with the login cookie: everything the
server does for the page (month to date, forecast, the overview from the rollups and
period totals, the 90-day trend, the filter choices, the alert count, the Jinja
template). The filter choices are cached for a minute, as in production; the first
(cold) request is printed apart.

Baseline, same database, same run: `bench.queries.raw_overview`, the overview's
figures by GROUP BY over the events table (what a tracker without rollups runs).
It computes less than the page (no trend, no template), so the ratio is conservative.

Events are made by the bulk path of bench/queries.py (generated inside SQLite with a
recursive CTE, then rollup_daily, sessions and period_totals built by INSERT … SELECT
… GROUP BY: the rows the ledger keeps incrementally), dated over the 90 days up to
today so that "this month" has data. Sizes: COSTLEDGER_BENCH_SIZES=10k,1M (default).

    python -m bench.dashboard
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import queries as bulk
from costledger import clock

SIZES = {"10k": 10_000, "1M": 1_000_000}
RUNS = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fill(path: Path, n: int) -> None:
    from costledger.store import Store

    store = Store(str(path))
    try:
        with store.engine.begin() as connection:
            bulk.generate_sqlite(connection, n)
            bulk.build_rollups(connection)
    finally:
        store.close()


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure(label: str, n: int, folder: Path) -> None:
    import uvicorn

    from costledger.dashboard import auth
    from costledger.keys import create_key
    from costledger.server.app import create_app
    from costledger.store import Store

    path = folder / f"dashboard-{label}.db"
    started = time.perf_counter()
    _fill(path, n)
    filled = time.perf_counter() - started
    store = Store(str(path))
    key, _ = create_key(store, "admin", "bench")
    app = create_app(str(path))
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
            cold_start = time.perf_counter()
            first = client.get("/")
            cold = time.perf_counter() - cold_start
            assert first.status_code == 200 and 'data-card="month"' in first.text, first.status_code
            ours = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = client.get("/")
                ours.append(time.perf_counter() - t0)
                assert response.status_code == 200
        baseline = []
        with store.engine.connect() as connection:
            for _ in range(max(3, RUNS // 3)):
                t0 = time.perf_counter()
                bulk.raw_overview(connection, bulk.TODAY)
                baseline.append(time.perf_counter() - t0)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()
    ours_ms, base_ms = _median_ms(ours), _median_ms(baseline)
    print(
        f"dashboard overview page  {label:>4} events: ours {ours_ms:8.1f} ms (median of {RUNS}, cold first "
        f"{cold * 1000:.0f} ms)  baseline raw GROUP BY {base_ms:8.1f} ms  ratio {base_ms / ours_ms:6.1f}x  "
        f"goal <= 100 ms: {'met' if ours_ms <= 100 else 'NOT met'}  (filled in {filled:.0f} s)",
        flush=True,
    )


def main() -> None:
    wanted = os.environ.get("COSTLEDGER_BENCH_SIZES", "10k,1M").split(",")
    # The bulk generator dates its events over the 90 days up to bulk.TODAY; the page shows the
    # real today, so both must be the same day.
    bulk.TODAY = clock.today()
    print(f"# {bulk.__doc__.splitlines()[0] if bulk.__doc__ else ''}")
    print(f"# events: bulk path of bench/queries.py, 90 days up to {bulk.TODAY}, sqlite; ours = GET / over HTTP")
    with tempfile.TemporaryDirectory(prefix="costledger-bench-dashboard-") as folder:
        for label in wanted:
            label = label.strip()
            if label not in SIZES:
                raise SystemExit(f"unknown size {label!r}; choose from {', '.join(SIZES)}")
            measure(label, SIZES[label], Path(folder))


if __name__ == "__main__":
    main()
