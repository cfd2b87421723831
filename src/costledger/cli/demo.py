"""`costledger demo`: record a realistic 90-day workload, report it, and serve the dashboard on it."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import clock
from .app import app, console, errors, fail
from .output import COUNT, MONEY, SHARE, Column, money, show

DEFAULT_DB = Path("costledger-demo") / "ledger.db"
CONFIG = Path("costledger.toml")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="same seed, same day: same events")] = 7,
    days: Annotated[int, typer.Option(min=1, max=3660, help="how many days of history, up to today")] = 90,
    db: Annotated[str | None, typer.Option("--db", help=f"SQLite file (default: {DEFAULT_DB})")] = None,
    host: Annotated[str, typer.Option(help="address the dashboard listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port the dashboard listens on")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="record and report, do not serve the dashboard")] = False,
) -> None:
    """Record 90 days of a voice/text council product, report it, serve the dashboard.

    Writes ./costledger.toml naming the demo's ledger, so every command run here reads it.
    """
    from ..demo import record_workload
    from ..ledger import Ledger

    path = Path(db) if db else DEFAULT_DB
    if "://" in str(path):
        fail("--db: the demo writes a SQLite file; give a path", 2)
    # The port first: finding it taken after a minute of recording would waste the minute.
    sock = None if no_serve else _listen(host, port)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = place_config(path, clock.today(), days)
    # The demo's alerts go to the log channel, one line each (its unknown model fires one a few days
    # apart): counted once below and shown on the dashboard instead of scrolling the report away.
    alerts_log = logging.getLogger("costledger.alerts")
    alerts_log.addHandler(logging.NullHandler())
    alerts_log.propagate = False
    started = time.monotonic()
    with Ledger(path, config=config) as ledger:
        with _progress() as update:
            recorded = record_workload(ledger, seed=seed, days=days, progress=update)
        elapsed = time.monotonic() - started
        console.print(
            f"recorded {recorded.accepted:,} events ({recorded.duplicates:,} already there, "
            f"{recorded.unpriced:,} unpriced) in {elapsed:.1f} s"
        )
        console.print(f"ledger {path}, config {config}")
        print_summary(ledger, clock.today())
        fired = ledger.alerts.history(limit=100_000)
        if fired:
            console.print(f"{len(fired):,} alerts fired ({', '.join(sorted({a.rule for a in fired}))}): "
                          "the dashboard's Alerts page lists them")  # fmt: skip
    if sock is None:
        return
    from ..dashboard.serve import serve_with_admin_key

    serve_with_admin_key(path, config, host, port, sock)


def _listen(host: str, port: int) -> socket.socket:
    try:
        from ..dashboard.serve import PortUnavailable, listen
    except ImportError as exc:  # the HTTP server is not installed in this build
        fail(f"cannot serve the dashboard: {exc}; use --no-serve", 1)
    try:
        return listen(host, port)
    except PortUnavailable as exc:
        fail(str(exc), 1)


def place_config(database: Path, today: dt.date, days: int) -> Path:
    """The demo's costledger.toml: ./costledger.toml naming `database`, unless that file is the user's own.

    Then the user's file is kept, and used if it names the demo's ledger (they edited the
    demo's file); otherwise the demo's config goes next to its database, and we say so.
    """
    from ..config import load_config
    from ..demo import write_config, written_by_demo
    from ..errors import ConfigError

    target = database.resolve()
    here = Path.cwd().resolve()
    named = os.path.relpath(target, here) if target.is_relative_to(here) else str(target)
    if write_config(CONFIG, today, days, database=named):
        beside = database.parent / "costledger.toml"
        if written_by_demo(beside):  # an older demo's config, which named no ledger
            beside.unlink()
        return CONFIG
    try:
        mine = load_config(CONFIG).database
    except ConfigError:
        mine = None
    if mine is not None and Path(mine).resolve() == target:
        console.print(f"keeping your edited {CONFIG}", style="dim")
        return CONFIG
    beside = database.parent / "costledger.toml"
    if not write_config(beside, today, days, database=database.name):
        console.print(f"keeping your edited {beside}", style="dim")
    errors.print(
        f"costledger: {CONFIG} here is yours and does not name the demo's ledger, so the demo's config is "
        f"{beside}: run commands in {beside.parent} or with --config {beside} to read the demo",
        soft_wrap=True,
    )
    return beside


class _progress:
    """A progress bar on stderr while recording (stdout stays the report)."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("recording the demo's days"), BarColumn(), TaskProgressColumn(),
                            TimeElapsedColumn(), console=errors, transient=True)  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("", total=None)
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *_: object) -> None:
        self.bar.stop()


def print_summary(ledger: Any, today: dt.date) -> None:
    """Today, month to date, and the whole history per service and per mode."""
    first = today.replace(day=1)
    day = ledger.total_usd(since=today, until=today)
    month = ledger.total_usd(since=first, until=today)
    unpriced = sum(t.unpriced for t in ledger.report([]))
    console.print(f"today {money(day)}   month to date {money(month)}   unpriced events {unpriced:,}")
    for by, title in (("service", "Cost by service"), ("mode", "Cost by mode")):
        totals = ledger.report(by)
        whole = sum((t.cost_usd for t in totals), start=Decimal(0))
        rows = [{by: t.group[by] or "(none)", "events": t.events, "unpriced": t.unpriced, "cost_usd": t.cost_usd,
                 "share": t.cost_usd / whole if whole else None} for t in totals]  # fmt: skip
        columns = [Column(by, by), Column("events", "events", COUNT), Column("unpriced", "unpriced", COUNT),
                   Column("cost_usd", "cost", MONEY), Column("share", "share", SHARE)]  # fmt: skip
        show(console, rows, columns, f"{title} (all {sum(t.events for t in totals):,} events)")
