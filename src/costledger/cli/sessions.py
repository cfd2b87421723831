"""`costledger sessions`, `costledger session ID` and `costledger overview`."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.table import Table

from ..money import usd
from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_day
from .recording import print_rows

SESSION_COLUMNS = ["session_id", "user_id", "tier", "mode", "started_at", "duration_seconds", "events", "unpriced",
                   "cost_usd"]  # fmt: skip


def _money(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        fail(f"{option}: expected an amount such as 1.50, got {value!r}", 2)


@app.command()
def sessions(
    sort: Annotated[str, typer.Option(help="started_at, ended_at, cost, events or duration")] = "started_at",
    ascending: Annotated[bool, typer.Option("--asc", help="smallest / oldest first")] = False,
    limit: Annotated[int, typer.Option(min=0)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    user: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[str | None, typer.Option()] = None,
    mode: Annotated[str | None, typer.Option()] = None,
    agent: Annotated[str | None, typer.Option()] = None,
    service: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="sessions started on or after this UTC day")] = None,
    until: Annotated[str | None, typer.Option(help="sessions started on or before this UTC day")] = None,
    min_cost: Annotated[str | None, typer.Option(help="USD, inclusive")] = None,
    max_cost: Annotated[str | None, typer.Option(help="USD, inclusive")] = None,
    as_json: Annotated[bool, typer.Option("--json", help='print {"total": N, "sessions": [...]}')] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Sessions with their cost, sorted, filtered and paged."""
    dims = {k: v for k, v in {"user_id": user, "tier": tier, "mode": mode, "agent": agent, "service": service}.items()
            if v is not None}  # fmt: skip
    ledger = open_ledger(db, config)
    try:
        page, total = ledger.sessions(  # type: ignore[attr-defined]
            sort=sort,
            descending=not ascending,
            limit=limit,
            offset=offset,
            since=parse_day(since, "--since"),
            until=parse_day(until, "--until"),
            min_cost=_money(min_cost, "--min-cost"),
            max_cost=_money(max_cost, "--max-cost"),
            **dims,
        )
    except ValueError as exc:
        fail(str(exc), 2)
    rows = [s.as_dict() for s in page]
    if as_json:
        print(json.dumps({"total": total, "offset": offset, "sessions": rows}))
        return
    title = f"Sessions {offset + 1}–{offset + len(rows)} of {total}" if rows else f"No sessions (of {total})"
    print_rows(rows, SESSION_COLUMNS, False, as_csv, title=title)


@app.command()
def session(
    session_id: Annotated[str, typer.Argument(help="the session's id")],
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """One session: its total, its cost by service and agent, and its events in time order."""
    ledger = open_ledger(db, config)
    summary = ledger.session_summary(session_id)  # type: ignore[attr-defined]
    if summary is None:
        fail(f"no session {session_id!r}", 1)
    events = ledger.session_events(session_id)  # type: ignore[attr-defined]
    if as_json:
        print(json.dumps({**summary.as_dict(), "event_list": [_event_json(e) for e in events]}))
        return
    info = summary.as_dict()
    console.print(
        f"[bold]{session_id}[/]  user {info['user_id'] or '-'}  tier {info['tier'] or '-'}  mode {info['mode'] or '-'}"
    )
    console.print(
        f"{info['started_at']} → {info['ended_at']} ({summary.duration_seconds:.0f} s)  "
        f"{summary.events} events, {summary.unpriced} unpriced, [bold]${info['cost_usd']}[/]"
    )
    for name, parts in (("service", info["by_service"]), ("agent", info["by_agent"])):
        table = Table(title=f"By {name}")
        table.add_column(name)
        table.add_column("cost_usd", justify="right")
        for key, amount in sorted(parts.items(), key=lambda item: -Decimal(item[1])):
            table.add_row(key or "-", amount)
        console.print(table)
    table = Table(title="Events")
    for column in ("ts", "service", "model", "agent", "usage", "cost_usd"):
        table.add_column(column, justify="right" if column == "cost_usd" else "left")
    for event in events:
        data = _event_json(event)
        usage = ", ".join(f"{k}={v}" for k, v in data["usage"].items())
        cost = data["cost_usd"] if data["cost_usd"] is not None else "[red]unpriced[/]"
        table.add_row(data["ts"], data["service"], data["model"] or "", data["agent"] or "", usage, cost)
    console.print(table)


def _event_json(event: dict[str, Any]) -> dict[str, Any]:
    return {
        **event,
        "ts": event["ts"].isoformat().replace("+00:00", "Z"),
        "usage": {k: usd(v) if isinstance(v, Decimal) else v for k, v in event["usage"].items()},
        "cost_usd": None if event["cost_usd"] is None else usd(event["cost_usd"]),
        "recorded_cost_usd": None if event["recorded_cost_usd"] is None else usd(event["recorded_cost_usd"]),
    }


@app.command()
def overview(
    today: Annotated[str | None, typer.Option(help="the day to report as today (default: today, UTC)")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Today, month to date, the month-end forecast, cost per session, and the top users and agents."""
    ledger = open_ledger(db, config)
    view = ledger.overview(parse_day(today, "--today"))  # type: ignore[attr-defined]
    data = view.as_dict()
    if as_json:
        print(json.dumps(data))
        return
    month = data["month"]
    console.print(f"[bold]Today[/] {data['today']}: ${month['today_usd']} ({month['today_events']} events)")
    console.print(
        f"[bold]Month to date[/] {month['month']}: ${month['cost_usd']} over {month['days_elapsed']} of "
        f"{month['days_in_month']} days; run rate ${month['run_rate_usd']}/day; "
        f"[bold]forecast ${month['forecast_usd']}[/]"
    )
    average = data["avg_session_usd"]
    console.print(f"Sessions this month: {data['sessions']}, average ${average if average is not None else '-'}")
    if data["unpriced"]:
        console.print(f"[red]{data['unpriced']} unpriced events this month[/] (costledger report --by service)")
    print_rows(data["by_service"], ["service", "events", "cost_usd", "share"], False, False, "Services this month")
    print_rows(data["by_mode"], ["mode", "sessions", "avg_usd", "p50_usd", "p90_usd"], False, False,
               "Cost per session by mode")  # fmt: skip
    print_rows(data["by_tier"], ["tier", "users", "cost_usd", "per_user_usd"], False, False, "Cost per user by tier")
    print_rows(data["top_users"], ["user", "events", "cost_usd"], False, False, "Top users this month")
    print_rows(data["top_agents"], ["agent", "events", "cost_usd"], False, False, "Top agents this month")
