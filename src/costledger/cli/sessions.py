"""`costledger sessions`, `costledger session ID` and `costledger overview`."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from ..money import usd
from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_day
from .output import COUNT, ID, MONEY, Column, duration, moment, money, print_rows, show

SESSION_COLUMNS = ["session_id", "user_id", "tier", "mode", "started_at", "duration_seconds", "events", "unpriced",
                   "cost_usd"]  # fmt: skip
# At 80 columns the id, user, start and cost always show; tier, unpriced and length go first.
SESSION_TABLE = [
    Column("session_id", "session", ID), Column("user_id", "user", ID), Column("tier", "tier", drop=3),
    Column("mode", "mode", drop=1), Column("started", "started (UTC)"), Column("length", "length", drop=2),
    Column("events", "events", COUNT), Column("unpriced", "unpriced", COUNT, drop=4),
    Column("cost_usd", "cost", MONEY),
]  # fmt: skip


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
    dims: dict[str, Any] = {k: v for k, v in {"user_id": user, "tier": tier, "mode": mode, "agent": agent,
                                               "service": service}.items()
            if v is not None}  # fmt: skip
    ledger = open_ledger(db, config)
    try:
        page, total = ledger.sessions(
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
    finally:
        ledger.close()
    rows = [s.as_dict() for s in page]
    if as_json:
        print(json.dumps({"total": total, "offset": offset, "sessions": rows}))
        return
    if as_csv:
        print_rows(console, rows, SESSION_COLUMNS, False, True, "")
        return
    title = f"Sessions {offset + 1:,}–{offset + len(rows):,} of {total:,}" if rows else f"No sessions (of {total:,})"
    for row in rows:
        row["started"], row["length"] = moment(row["started_at"]), duration(row["duration_seconds"])
    show(console, rows, SESSION_TABLE, title)


@app.command()
def session(
    session_id: Annotated[str, typer.Argument(help="the session's id")],
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """One session: its total, its cost by service and agent, and its events in time order."""
    ledger = open_ledger(db, config)
    try:
        summary = ledger.session_summary(session_id)
        events = ledger.session_events(session_id) if summary is not None else []
    finally:
        ledger.close()
    if summary is None:
        fail(f"no session {session_id!r}", 1)
    if as_json:
        print(json.dumps({**summary.as_dict(), "event_list": [_event_json(e) for e in events]}))
        return
    info = summary.as_dict()
    console.print(f"[bold]{session_id}[/]", soft_wrap=True)
    console.print(f"user {info['user_id'] or '-'}  tier {info['tier'] or '-'}  mode {info['mode'] or '-'}")
    console.print(
        f"{moment(info['started_at'])} → {moment(info['ended_at'])} UTC ({duration(summary.duration_seconds)}), "
        f"{summary.events:,} events, {summary.unpriced:,} unpriced, [bold]{money(info['cost_usd'])}[/]"
    )
    for name, parts in (("service", info["by_service"]), ("agent", info["by_agent"])):
        ranked = sorted(parts.items(), key=lambda item: -Decimal(item[1]))
        show(console, [{name: key or "(none)", "cost_usd": amount} for key, amount in ranked],
             [Column(name, name), Column("cost_usd", "cost", MONEY)], f"By {name}")  # fmt: skip
    rows = []
    for event in events:
        data = _event_json(event)
        rows.append({
            "ts": moment(event["ts"]), "service": data["service"], "model": data["model"] or "",
            "agent": data["agent"] or "", "usage": ", ".join(f"{k}={v}" for k, v in data["usage"].items()),
            "cost_usd": data["cost_usd"] if data["cost_usd"] is not None else None,
        })  # fmt: skip
    columns = [Column("ts", "time (UTC)"), Column("service", "service"), Column("model", "model", drop=1),
               Column("agent", "agent"), Column("usage", "usage"), Column("cost_usd", "cost", MONEY)]  # fmt: skip
    show(console, rows, columns, "Events", styles=[None if r["cost_usd"] is not None else "red" for r in rows])
    if summary.unpriced:
        console.print(f"[red]{summary.unpriced:,} unpriced event(s)[/] (no cost shown): no price is known for them")


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
    try:
        view = ledger.overview(parse_day(today, "--today"))
    finally:
        ledger.close()
    data = view.as_dict()
    if as_json:
        print(json.dumps(data))
        return
    month = data["month"]
    console.print(f"[bold]Today[/] {data['today']}: {money(month['today_usd'])} ({month['today_events']:,} events)")
    console.print(
        f"[bold]Month to date[/] {month['month']}: {money(month['cost_usd'])} over {month['days_elapsed']} of "
        f"{month['days_in_month']} days"
    )
    console.print(
        f"Run rate {money(month['run_rate_usd'])}/day; [bold]forecast {money(month['forecast_usd'])}[/] "
        f"for {month['month']}"
    )
    console.print(f"Sessions this month: {data['sessions']:,}, average {money(data['avg_session_usd'], '-')}")
    if data["unpriced"]:
        console.print(f"[red]{data['unpriced']:,} unpriced events this month[/] (costledger report --by service,model)")
    print_rows(console, data["by_service"], ["service", "events", "cost_usd", "share"], False, False,
               "Services this month")  # fmt: skip
    print_rows(console, data["by_mode"], ["mode", "sessions", "avg_usd", "p50_usd", "p90_usd"], False, False,
               "Cost per session by mode")  # fmt: skip
    print_rows(console, data["by_tier"], ["tier", "users", "cost_usd", "per_user_usd"], False, False,
               "Cost per user by tier")  # fmt: skip
    print_rows(console, data["top_users"], ["user", "events", "cost_usd"], False, False, "Top users this month")
    print_rows(console, data["top_agents"], ["agent", "events", "cost_usd"], False, False, "Top agents this month")
