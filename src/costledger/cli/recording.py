"""`costledger record` and `costledger report`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import typer

from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_day
from .output import print_rows

BATCH = 1000


def read_json_events(source: str | None, text: str | None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) from --json, a file, or stdin: one JSON object, a JSON list, or JSONL."""
    if text is not None:
        lines = [text]
    elif source in (None, "-"):
        lines = sys.stdin.read().splitlines()
    else:
        try:
            with open(source, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            fail(f"{source}: {exc.strerror}", 2)
    whole = "\n".join(lines).strip()
    if whole.startswith("["):
        try:
            data = json.loads(whole)
        except json.JSONDecodeError as exc:
            fail(f"line {exc.lineno}: not valid JSON ({exc.msg})", 2)
        yield from ((i + 1, item) for i, item in enumerate(data))
        return
    if whole.startswith("{") and "\n" in whole:
        try:  # one pretty-printed object
            yield 1, json.loads(whole)
            return
        except json.JSONDecodeError:
            pass  # JSONL: parse line by line below
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"line {number}: not valid JSON ({exc.msg})", 2)


@app.command()
def record(
    file: Annotated[str | None, typer.Argument(help="JSON or JSONL file of events ('-' or nothing: stdin)")] = None,
    event: Annotated[str | None, typer.Option("--json", help="one event as JSON text")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Record usage events; prints {"accepted", "duplicates", "unpriced"}.

    Every event is validated before any is stored: one bad event refuses them all.
    """
    from ..errors import InvalidEvent
    from ..events import parse_events
    from ..ledger import Recorded

    items = list(read_json_events(file, event))
    ledger = open_ledger(db, config, create=True)
    try:
        parsed = parse_events([item for _, item in items], custom_meters=ledger.catalog.custom_meters)
    except InvalidEvent as exc:
        for index, field, message in exc.errors:
            line = items[index][0] if index is not None else 1
            print(f"costledger: line {line}: {field}: {message}" if field else f"line {line}: {message}",
                  file=sys.stderr)  # fmt: skip
        raise typer.Exit(1) from None
    total = Recorded(0, 0, 0, Decimal(0))
    for start in range(0, len(parsed), BATCH):
        total += ledger.record_many(parsed[start : start + BATCH])
    ledger.close()
    print(json.dumps(total.as_dict()))


@app.command()
def report(
    by: Annotated[
        list[str] | None,
        typer.Option(
            help="group by service, model, agent, user, tier, mode, session, day, week, month "
            "(repeat or comma-separate for several)"
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="first UTC day, e.g. 2026-11-01")] = None,
    until: Annotated[str | None, typer.Option(help="last UTC day (inclusive)")] = None,
    service: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    agent: Annotated[str | None, typer.Option()] = None,
    user: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[str | None, typer.Option()] = None,
    mode: Annotated[str | None, typer.Option()] = None,
    session: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeatable)")] = None,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    compare_recorded: Annotated[
        bool, typer.Option("--compare-recorded", help="imported events: old tracker's cost vs costledger's")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Totals grouped by any dimension, over a date range."""
    if compare_recorded:
        from .storage import report_compare_recorded

        report_compare_recorded(db, config, parse_day(since, "--since"), parse_day(until, "--until"), as_json, as_csv)
        return
    from ..store.queries import GROUPS

    groups = [g.strip() for item in (by or ["service"]) for g in item.split(",") if g.strip()]
    for name in groups:  # a typo is a usage error, before any ledger is looked for
        if name not in GROUPS:
            fail(f"--by: cannot group by {name!r}; choose from {', '.join(GROUPS)}", 2)
    tags = {}
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--tag: expected KEY=VALUE, got {item!r}", 2)
        tags[key] = value
    dims = {
        k: v
        for k, v in {"service": service, "model": model, "agent": agent, "user_id": user, "tier": tier,
                     "mode": mode, "session_id": session}.items()
        if v is not None
    }  # fmt: skip
    ledger = open_ledger(db, config)
    try:
        totals = ledger.report(
            groups, since=parse_day(since, "--since"), until=parse_day(until, "--until"), tags=tags, **dims
        )
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        ledger.close()
    rows = [t.as_dict() for t in totals]
    columns = [*groups, "events", "unpriced", "cost_usd"]
    print_rows(console, rows, columns, as_json, as_csv, "Cost by " + ", ".join(groups))
