"""`costledger db upgrade|check`, `costledger reprice` and `costledger import`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .app import (
    ConfigOption,
    DbOption,
    JsonOption,
    app,
    console,
    errors,
    fail,
    open_ledger,
    open_store,
    parse_day,
    parse_moment,  # fmt: skip
)
from .output import money, print_rows

db_app = typer.Typer(help="The database: migrate it, check its totals against its events.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def progress_bar(show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr (stdout stays clean for --json); (phase, done, total) updates it."""
    if not show:
        yield lambda phase, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task("", total=None)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        yield update


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="the target revision")] = "head",
    config: ConfigOption = None,
) -> None:
    """Migrate the database to the latest schema (the embedded store also does this on open)."""
    from ..store import migrate

    store = open_store(db, config, create=True, upgrade=False)
    try:
        before = migrate.current(store.engine)
        migrate.upgrade(store.engine, revision)
        after = migrate.current(store.engine)
    finally:
        store.close()
    print(f"{before or 'empty'} → {after}" if before != after else f"already at {after}")


@db_app.command("check")
def db_check(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the differences as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Recount rollups, sessions and session costs from the events; exit 1 on any difference."""
    from ..store.check import check_store

    store = open_store(db, config)
    try:
        differences = check_store(store)
    finally:
        store.close()
    if as_json:
        print(json.dumps([d.as_dict() for d in differences]))
    elif differences:
        for difference in differences:
            print(difference)
    else:
        console.print("consistent: rollups, sessions and session costs equal a recount of the events")
    if differences:
        if not as_json:
            print(f"{len(differences)} difference(s)", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def reprice(
    since: Annotated[str | None, typer.Option(help="first day or time (UTC), e.g. 2026-11-01")] = None,
    until: Annotated[str | None, typer.Option(help="last day (inclusive) or time (exclusive)")] = None,
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
    model: Annotated[str | None, typer.Option(help="only this model, as recorded")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report what would change; change nothing")] = False,
    history: Annotated[bool, typer.Option("--history", help="show the reprice audit log instead")] = False,
    note: Annotated[str | None, typer.Option(help="why: kept in the audit log")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Recompute stored costs with the catalog in force now, on purpose, and audit it."""
    from ..reprice import audit_log
    from ..reprice import reprice as run

    ledger = open_ledger(db, config)
    try:
        if history:
            rows = audit_log(ledger)
            columns = ["id", "at", "since", "until", "service", "model", "dry_run", "events", "changed",
                       "old_cost_usd", "new_cost_usd", "unpriced_before", "unpriced_after", "note"]  # fmt: skip
            print_rows(console, rows, columns, as_json, False, "Reprice audit log", drop=_AUDIT_DROP)
            return
        if since is None and until is None and service is None and model is None:
            fail("say what to reprice: --since/--until and/or --service/--model (history changes only on purpose)", 2)
        start = _day_or_moment(since, "--since")
        end = _day_or_moment(until, "--until")
        with progress_bar(not as_json) as update:
            try:
                result = run(ledger, start, end, service=service, model=model, dry_run=dry_run,
                             progress=lambda done, total: update("repricing", done, total), note=note)  # fmt: skip
            except ValueError as exc:
                fail(str(exc), 2)
    finally:
        ledger.close()
    data = result.as_dict()
    if as_json:
        print(json.dumps(data))
        return
    verb = "would change" if dry_run else "changed"
    console.print(
        f"{data['events']:,} events in range; {verb} {data['changed']:,}. "
        f"total {money(data['old_cost_usd'])} → {money(data['new_cost_usd'])}; "
        f"unpriced {data['unpriced_before']:,} → {data['unpriced_after']:,}"
        + (" (dry run: nothing changed)" if dry_run else "")
    )


# At 80 columns the audit log keeps when, what range and the totals; filters and notes fold or go.
_AUDIT_DROP = {"service": 2, "model": 3, "dry_run": 1, "events": 4, "unpriced_before": 6, "unpriced_after": 5,
               "note": 7}  # fmt: skip


def _day_or_moment(value: str | None, option: str) -> Any:
    """A plain date stays a date (a whole UTC day); anything else is a time."""
    if value is None:
        return None
    if len(value) == 10:
        return parse_day(value, option)
    return parse_moment(value, option)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="a file, or a directory (sutra: all costs-YYYY-MM-DD.jsonl in it)")],
    format: Annotated[str, typer.Option("--format", help="sutra-jsonl | agent-usage-logs | jsonl | stripe")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="skip bad lines (listed) instead of refusing")] = False,
    participants: Annotated[
        int, typer.Option(help="sutra-jsonl: participants per LiveKit room (the tracker assumed 2)")
    ] = 2,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Import the logs of a tracker costledger replaces; re-importing adds nothing."""
    from ..importers import FORMATS, BadLine, FileChanged, RecordingStopped, import_path
    from ..webhooks import SourceUnavailable

    if format not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}", 2)
    if not path.exists():
        fail(f"{path}: no such file or directory", 2)
    ledger = open_ledger(db, config, create=True)
    try:
        with progress_bar(not as_json) as update:
            result = import_path(ledger, path, format, skip_bad=skip_bad, participants=participants, progress=update)
    except FileChanged as exc:
        fail(f"{exc}; the events before that line were recorded: import the file again once it is complete", 1)
    except BadLine as exc:
        fail(f"{exc} (nothing of this file was imported; --skip-bad skips such lines)", 1)
    except RecordingStopped as exc:
        fail(str(exc), 1)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), 2)
    except SourceUnavailable as exc:
        fail(f"{exc} (nothing of this file was imported)", 1)
    finally:
        ledger.close()
    for skipped in result.skipped:
        print(f"costledger: skipped {skipped}", file=sys.stderr)
    print(json.dumps(result.as_dict()))


def report_compare_recorded(
    db: str | None, config: str | None, since: Any, until: Any, as_json: bool, as_csv: bool
) -> None:
    """`report --compare-recorded`: per service and model, what the old tracker recorded vs costledger."""
    from ..store.compare import compare_recorded

    ledger = open_ledger(db, config)
    try:
        with ledger.store.engine.connect() as connection:
            rows = [c.as_dict() for c in compare_recorded(connection, since, until)]
    finally:
        ledger.close()
    columns = ["service", "model", "events", "unpriced", "recorded_usd", "computed_usd", "difference_usd",
               "recorded_unpriced_usd"]  # fmt: skip
    print_rows(console, rows, columns, as_json, as_csv, "Recorded by the old tracker vs computed by costledger",
               drop={"unpriced": 2, "recorded_unpriced_usd": 1})  # fmt: skip
    if not as_json and not as_csv and any(r["unpriced"] for r in rows):
        console.print(
            "recorded_unpriced_usd: what the old tracker charged for events costledger cannot price "
            "(an unknown model or alias it priced by guess); price or alias them, then `costledger reprice`.",
            style="dim",
        )
