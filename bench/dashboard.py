"""Every dashboard page and API read over real HTTP, on realistic ledgers of 10k, 1M and 10M events.

Ours: `costledger serve` (one worker, its defaults, the workload's costledger.toml) over loopback on
each ledger of bench/_ledgers.py (built through record_many, cached), the clock pinned to the instant
the ledger ends at. Each read (READS: every page of the dashboard, its CSV exports and search, and
every GET of the API with each group_by and the filters) is requested once cold, then its warm median
of RUNS is taken (3 when a request takes over a second, 1 over ten, none over thirty: then the
figure is the cold one; a 13 s page needs no nine samples to be seen), with the server process's
CPU time per warm request beside it (from /proc: on a machine shared with other jobs it moves far
less than the wall time). Dashboard pages are signed
in with the login cookie, the API with an admin key.

Baselines, same run: at the first size, `GET /healthz` (the HTTP round trip with no work: the ratio
says how many round trips a read costs); at the other sizes, the same read at the first size, so the
ratio says how it grows. Goals (issue 20): every read ≤ 100 ms at 1M, and at 10M within 1.5× of its
10k figure; each line says ✓ or ✗. Then, per size, the raw GROUP BY over the events that a tracker
without aggregates would run for the same totals (all time by service and by user; the last 30 days
by user), timed on the same file in this process.

Also, at the first size: the bytes of the overview's first load (the page and every asset it links,
gzip) against the same uncompressed with plotly's full bundle, which the dashboard sent before;
goal < 1.5 MB.

    COSTLEDGER_BENCH_SIZES=10k,1M python -m bench dashboard
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import httpx

from bench import _ledgers

RUNS = int(os.environ.get("COSTLEDGER_BENCH_RUNS", "9"))
TIMEOUT = float(os.environ.get("COSTLEDGER_BENCH_TIMEOUT", "600"))  # seconds one request may take
GOAL_MS = 100.0
GOAL_GROWTH = 1.5
FIRST_LOAD_GOAL = 1_500_000
GOALS = {"1M": f"<= {GOAL_MS:.0f} ms at 1M", "10M": f"<= {GOAL_GROWTH}x from 10k to 10M"}
ADMIN_KEY = "bench-dashboard-admin-key-0001"
GROUPS = ("service", "model", "agent", "user", "tier", "mode", "session", "day", "week", "month")


@dataclass(frozen=True)
class Read:
    path: str  # a template: {since} {until} (last month), {today} {month} {user} {agent} {session} {tier}
    api: bool = False
    status: int = 200


PAGES = [Read(p) for p in (
    "/", "/?since={since}&until={until}", "/?tier={tier}", "/?agent={agent}",
    "/sessions", "/sessions?sort=total_usd", "/sessions?page=20", "/sessions?user={user}", "/sessions?unpriced=true",
    "/sessions/{session}", "/users", "/users?sort=sessions", "/users?page=5", "/users?tier={tier}",
    "/users?since={since}&until={until}", "/agents", "/agents?since={since}&until={until}", "/margins",
    "/margins?plan=pro", "/alerts", "/prices", "/prices?service=anthropic", "/session-types",
    "/session-types?since={since}&until={until}", "/search?q=user-00", "/login",
    "/?csv=services", "/?csv=daily", "/sessions?csv=sessions", "/sessions/{session}?csv=events", "/users?csv=users",
    "/agents?csv=agents", "/margins?csv=plans", "/prices?csv=prices", "/session-types?csv=session_types",
)] + [Read("/search?q={session}", status=303), Read("/search?q={user}", status=303)]  # fmt: skip
API = [Read(f"/v1/costs?group_by={g}", api=True) for g in GROUPS] + [Read(p, api=True) for p in (
    "/v1/costs?group_by=service,user", "/v1/costs?group_by=user&since={since}&until={until}",
    "/v1/costs?group_by=agent&since={today}&until={today}", "/v1/costs?group_by=model&tier={tier}",
    "/v1/costs?group_by=service&user={user}", "/v1/costs?group_by=day&agent={agent}",
    "/v1/costs?group_by=service&tag=region=eu-west", "/v1/costs/daily", "/v1/costs/daily?days=90&tier={tier}",
    "/v1/sessions", "/v1/sessions?sort=cost", "/v1/sessions?user={user}", "/v1/sessions?mode=council&limit=500",
    "/v1/sessions?since={today}&min_cost=0.5", "/v1/sessions/{session}", "/v1/margins", "/v1/margins?month={month}",
    "/v1/recommendations", "/v1/prices", "/v1/prices?service=openai", "/v1/alerts", "/v1/alerts?unacked=true",
    "/v1/budget/check?user_id={user}&estimate_usd=0.25", "/metrics",
)]  # fmt: skip
READS = PAGES + API


@dataclass
class Figure:
    warm_ms: float
    cold_ms: float
    runs: int
    size: int  # bytes of the body
    cpu_ms: float  # the server's CPU time per warm request (its mean): on a shared machine it moves far less


def server_cpu_ms(pid: int) -> float:
    """CPU time (user + system) of the server process and its children so far, from /proc (Linux)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(p) for p in task.read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / tick


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(built: _ledgers.Built) -> Iterator[tuple[httpx.Client, int]]:
    """`costledger serve` on the ledger, one worker; a client signed in to the dashboard."""
    port = _free_port()
    env = {**os.environ, "COSTLEDGER_ADMIN_KEY": ADMIN_KEY}
    command = [str(Path(sys.executable).parent / "costledger"), "serve", "--db", str(built.path), "--config",
               str(built.config), "--port", str(port), "--workers", "1", "--log-level", "warning"]  # fmt: skip
    # The server's own output (its log channel prints fired alerts) goes to a file beside the ledger.
    log = built.path.with_suffix(".serve.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench dashboard: costledger serve did not start on {built.path}")
                time.sleep(0.2)
            from costledger.dashboard import auth

            client.get("/login")
            csrf = client.cookies[auth.LOGIN_CSRF_COOKIE]
            signed = client.post("/login", data={"key": ADMIN_KEY, "csrf": csrf, "next": "/"})
            if signed.status_code != 303:
                raise SystemExit(f"bench dashboard: login refused ({signed.status_code})")
            yield client, server.pid
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def values(built: _ledgers.Built) -> dict[str, str]:
    """What the templates name, from the ledger: a session of today (its user), last month's range."""
    today = _ledgers.now().date()
    with sqlite3.connect(built.path) as connection:
        session, user = connection.execute(
            "SELECT session_id, user_id FROM sessions WHERE started_at >= ? ORDER BY session_id LIMIT 1",
            (today.isoformat(),),
        ).fetchone()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return {"since": last.replace(day=1).isoformat(), "until": last.isoformat(), "today": today.isoformat(),
            "month": f"{today:%Y-%m}", "user": user, "session": quote(session, safe=""), "agent": "economist",
            "tier": "pro"}  # fmt: skip


def measure(client: httpx.Client, pid: int, path: str, api: bool, status: int) -> Figure:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"} if api else {}

    def get() -> tuple[float, int]:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != status:
            raise SystemExit(f"bench dashboard: GET {path} answered {response.status_code}: {response.text[:300]}")
        return elapsed, len(response.content)

    cpu = server_cpu_ms(pid)
    cold, size = get()
    runs = RUNS if cold < 1000 else 3 if cold < 10_000 else 1 if cold < 30_000 else 0
    if not runs:  # half a minute or more: the cold figure says enough, and a run of every read stays in hours
        return Figure(cold, cold, 0, size, server_cpu_ms(pid) - cpu)
    cpu = server_cpu_ms(pid)
    warm = statistics.median(get()[0] for _ in range(runs))
    return Figure(warm, cold, runs, size, (server_cpu_ms(pid) - cpu) / runs)


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def _line(label: str, read: Read, path: str, ours: Figure, base_name: str, base: float, growth: float | None) -> str:
    marks = []
    if label == "1M":
        marks.append(f"goal <= {GOAL_MS:.0f} ms at 1M {'✓' if ours.warm_ms <= GOAL_MS else '✗'}")
    if label == "10M" and growth is not None:
        marks.append(f"goal <= {GOAL_GROWTH}x of 10k {'✓' if growth <= GOAL_GROWTH else '✗'}")
    kind = "api" if read.api else "page"
    runs = f"median of {ours.runs}" if ours.runs else "cold only"
    return (f"{kind} {path[:58]:<58} @{label:>4}: {ours.warm_ms:9.1f} ms  baseline {base_name} {base:8.1f} ms  "
            f"ratio {_ratio(ours.warm_ms / base):>6}  [{runs}, server CPU {ours.cpu_ms:,.0f} ms, "
            f"cold {ours.cold_ms:,.0f} ms, {ours.size:,} B]  {'  '.join(marks)}")  # fmt: skip


# The GROUP BY over the events a tracker without aggregates would run for a read, by the read it answers.
RAW = {
    "/v1/costs?group_by=service": "SELECT service, count(*), coalesce(sum(cost), 0) FROM events GROUP BY service",
    "/v1/costs?group_by=user": "SELECT user_id, count(*), coalesce(sum(cost), 0) FROM events GROUP BY user_id "
    "ORDER BY 3 DESC",
    "/users": "SELECT user_id, count(*), count(DISTINCT session_id), coalesce(sum(cost), 0) FROM events "
    "WHERE ts >= :since GROUP BY user_id ORDER BY 4 DESC LIMIT 50",
    "/agents": "SELECT agent, count(*), coalesce(sum(cost), 0) FROM events WHERE ts >= :since GROUP BY agent",
}


def raw_baselines(built: _ledgers.Built, ours: dict[str, float]) -> None:
    since = (_ledgers.now().date() - dt.timedelta(days=29)).isoformat()
    with sqlite3.connect(built.path) as connection:
        for read, sql in RAW.items():
            runs = []
            for _ in range(3 if built.events <= 1_000_000 else 1):
                started = time.perf_counter()
                connection.execute(sql.replace(":since", "?"), (since,) if ":since" in sql else ()).fetchall()
                runs.append((time.perf_counter() - started) * 1000)
            raw = statistics.median(runs)
            print(f"raw SQL for {read:<26} @{built.label:>4}: ours over HTTP {ours[read]:9.1f} ms  baseline GROUP BY "
                  f"over the events in this process {raw:9.1f} ms  ratio {_ratio(raw / ours[read])}  "
                  f"[median of {len(runs)}]", flush=True)  # fmt: skip


def wire_bytes(client: httpx.Client, path: str, encoding: str) -> int:
    with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        return sum(len(chunk) for chunk in response.iter_raw())


def first_load(client: httpx.Client) -> None:
    """The overview and every asset it links, as a browser with an empty cache fetches them."""
    from costledger.dashboard.assets import CHARTS, asset

    html = client.get("/", headers={"Accept-Encoding": "identity"}).text
    links = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)))
    ours, plain = (wire_bytes(client, "/", e) + sum(wire_bytes(client, link, e) for link in links)
                   for e in ("gzip", "identity"))  # fmt: skip
    full = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")).stat().st_size
    charts = asset(CHARTS)
    assert charts is not None
    before = plain - len(charts.body) + full  # the same page with the full bundle, uncompressed, as before
    print(f"first load of the overview ({charts.origin}): ours {ours:,} bytes  baseline full plotly uncompressed "
          f"{before:,} bytes  ratio {before / ours:.1f}x  goal < {FIRST_LOAD_GOAL:,} "
          f"{'✓' if ours < FIRST_LOAD_GOAL else '✗'}", flush=True)  # fmt: skip


def main() -> None:
    _ledgers.pin_clock()
    print(f"  [load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; clock pinned to "
          f"{os.environ['COSTLEDGER_NOW']}]", flush=True)  # fmt: skip
    first: dict[str, float] = {}
    first_label = ""
    verdicts: dict[str, list[bool]] = {}
    for label, n in _ledgers.sizes():
        built = _ledgers.ledger(label, n)
        print("  " + built.describe(), flush=True)
        with serving(built) as (client, pid):
            floor = measure(client, pid, "/healthz", False, 200)
            print(f"baseline GET /healthz @{label:>4}: {floor.warm_ms:.1f} ms (median of {floor.runs}); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            given = values(built)
            measured: dict[str, float] = {}
            for read in READS:
                path = read.path.format(**given)
                try:
                    ours = measure(client, pid, path, read.api, read.status)
                except httpx.TimeoutException:
                    print(f"{'api' if read.api else 'page'} {path[:58]:<58} @{label:>4}: no answer within "
                          f"{TIMEOUT:.0f} s (COSTLEDGER_BENCH_TIMEOUT) ✗", flush=True)  # fmt: skip
                    if label in GOALS:
                        verdicts.setdefault(GOALS[label], []).append(False)
                    first.setdefault(read.path, TIMEOUT * 1000)
                    measured[read.path] = TIMEOUT * 1000
                    continue
                measured[read.path] = ours.warm_ms
                if not first_label or first_label == label:
                    base_name, base, growth = "/healthz", floor.warm_ms, None
                    first[read.path] = ours.warm_ms
                else:
                    base_name, base = f"@{first_label}", first[read.path]
                    growth = ours.warm_ms / base if first_label == "10k" else None
                if label == "1M":
                    verdicts.setdefault(GOALS[label], []).append(ours.warm_ms <= GOAL_MS)
                if growth is not None and label == "10M":
                    verdicts.setdefault(GOALS[label], []).append(growth <= GOAL_GROWTH)
                print(_line(label, read, path, ours, base_name, base, growth), flush=True)
            if not first_label:
                first_load(client)
        raw_baselines(built, measured)
        first_label = first_label or label
    for goal, met in verdicts.items():
        print(f"goal {goal}: met by {sum(met)} of {len(met)} reads {'✓' if all(met) else '✗'}")
    print(f"  [load average at the end: {os.getloadavg()[0]:.1f}]")


if __name__ == "__main__":
    main()
