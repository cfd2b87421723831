"""`costledger demo`: record a realistic 90-day workload, report it, and serve the dashboard on it."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import clock
from .app import app, console, fail

DEFAULT_DB = Path("costledger-demo") / "ledger.db"


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="same seed, same day: same events")] = 7,
    days: Annotated[int, typer.Option(min=1, max=3660, help="how many days of history, up to today")] = 90,
    db: Annotated[
        str | None, typer.Option("--db", help=f"SQLite file (default: {DEFAULT_DB}); costledger.toml goes next to it")
    ] = None,
    host: Annotated[str, typer.Option(help="address the dashboard listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port the dashboard listens on")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="record and report, do not serve the dashboard")] = False,
) -> None:
    """Record a realistic 90-day workload of a voice/text council product, report it, serve the dashboard."""
    from ..demo import record_workload, write_config
    from ..ledger import Ledger

    path = Path(db) if db else DEFAULT_DB
    if "://" in str(path):
        fail("--db: the demo writes a SQLite file; give a path", 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = path.parent / "costledger.toml"
    today = clock.today()
    if not write_config(config, today, days):
        console.print(f"keeping your edited {config}", style="dim")
    started = time.perf_counter()
    with Ledger(path, config=config) as ledger:
        recorded = record_workload(ledger, seed=seed, days=days)
        elapsed = time.perf_counter() - started
        console.print(
            f"recorded {recorded.accepted:,} events ({recorded.duplicates:,} already there, "
            f"{recorded.unpriced} unpriced) in {elapsed:.1f} s into {path}; config {config}"
        )
        print_summary(ledger, today)
    if no_serve:
        return
    serve_dashboard(path, config, host, port)


def print_summary(ledger: Any, today: dt.date) -> None:
    """Today, month to date, and the whole history per service and per mode."""
    first = today.replace(day=1)
    day = ledger.total_usd(since=today, until=today)
    month = ledger.total_usd(since=first, until=today)
    unpriced = sum(t.unpriced for t in ledger.report([]))
    console.print(f"today ${day:.2f}   month to date ${month:.2f}   unpriced events {unpriced}")
    for by, title in (("service", "Cost by service"), ("mode", "Cost by mode")):
        rows = ledger.report(by)
        total = sum((t.cost_usd for t in rows), start=Decimal(0))
        table = Table(title=f"{title} (all {sum(t.events for t in rows):,} events)")
        table.add_column(by)
        for column in ("events", "unpriced", "cost_usd", "share"):
            table.add_column(column, justify="right")
        for t in rows:
            share = f"{100 * t.cost_usd / total:.1f}%" if total else ""
            name = t.group[by] or "(none)"
            table.add_row(name, f"{t.events:,}", str(t.unpriced), f"{t.cost_usd:.2f}", share)
        console.print(table)


def serve_dashboard(path: Path, config: Path, host: str, port: int) -> None:
    try:
        from ..dashboard.serve import serve_with_admin_key
    except ImportError as exc:  # the HTTP server is not installed in this build
        fail(f"cannot serve the dashboard: {exc}; use --no-serve", 1)
    serve_with_admin_key(path, config, host, port)
