"""`costledger margins`, `costledger whatif` and `costledger advice`."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_day
from .output import COUNT, MONEY, Column, Section, money, note, show

# At 80 columns the plan, revenue, API cost and margin always show; the rest go first-listed-last.
MARGIN_COLUMNS = [
    Column("plan", "plan"), Column("users", "users", COUNT, drop=5), Column("sessions", "sessions", COUNT, drop=4),
    Column("revenue_usd", "revenue", MONEY), Column("refunds_usd", "refunds", MONEY, drop=6),
    Column("fees_usd", "fees", MONEY, drop=2), Column("variable_cost_usd", "API", MONEY),
    Column("extra_cost_usd", "extra", MONEY, drop=3), Column("fixed_cost_usd", "fixed", MONEY, drop=1),
    Column("margin_usd", "margin", MONEY),
]  # fmt: skip
AT_LIMIT_COLUMNS = [
    Column("plan", "plan"), Column("price", "price", MONEY), Column("quota", "quota", COUNT, drop=3),
    Column("subscribers", "subs", COUNT, drop=4), Column("measured", "seen", COUNT, drop=5),
    Column("p50_cost", "p50 cost", MONEY), Column("p50_margin", "p50 margin", MONEY),
    Column("p90_cost", "p90 cost", MONEY), Column("p90_margin", "p90 margin", MONEY), Column("flag", "flag"),
]  # fmt: skip


# The period what-if and advice look at.
SinceOption = Annotated[str | None, typer.Option(help="first UTC day (default: 30 days before --until)")]
UntilOption = Annotated[str | None, typer.Option(help="last UTC day (default: the last day with data)")]


@app.command()
def margins(
    month: Annotated[str | None, typer.Option(help="one month, e.g. 2026-11 (default: every month with data)")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Revenue, payment fees, cost and margin per plan per month, and each plan's margin at its limit."""
    from ..margins import margins_json

    ledger = open_ledger(db, config)
    try:
        data = margins_json(ledger, month)
    except ValueError as exc:
        fail(f"--month: {exc}", 2)
    finally:
        ledger.close()
    if as_json:
        print(json.dumps(data))
        return
    sections = []
    for month_data in data["months"]:
        rows = [{**row, "plan": row["plan"] or "(no plan)"} for row in month_data["plans"]]
        rows.append({"plan": "total", **month_data["total"]})
        sections.append(Section(f"Margin per plan, {month_data['month']}", rows, [None] * (len(rows) - 1) + ["bold"]))
    show(console, sections, _margin_columns(sections))
    for month_data in data["months"]:
        for row in month_data["plans"]:
            line = _money_in(row)
            if line:
                note(console, f"{month_data['month']}, {row['plan'] or '(no plan)'}: {line}")
    limit = [
        {"plan": row["plan"], "price": row["price_usd"], "quota": row["included_sessions"],
         "subscribers": row["subscribers"], "measured": row["measured_sessions"], "p50_cost": row["p50"]["cost_usd"],
         "p50_margin": row["p50"]["margin_usd"], "p90_cost": row["p90"]["cost_usd"],
         "p90_margin": row["p90"]["margin_usd"], "flag": row["flag"]}
        for row in data["at_limit"]
    ]  # fmt: skip
    show(console, limit, AT_LIMIT_COLUMNS, "Margin at limit (one subscriber uses the whole quota)")
    note(console, "Money to the cent; --json has the exact decimals, and the margin of every user.")
    for line in data["assumptions"]:
        note(console, line, "-")


def _margin_columns(sections: list[Section]) -> list[Column]:
    """A money column with an amount in it stays at any width; one of zeros is the first to go."""

    def used(key: str) -> bool:
        return any(Decimal(row.get(key) or 0) for section in sections for row in section.rows)

    return [replace(c, drop=0) if c.kind == MONEY and c.drop and used(c.key) else c for c in MARGIN_COLUMNS]


def _money_in(row: dict[str, Any]) -> str:
    """Where a plan's revenue figures come from: Stripe's own fees or estimates, disputes, currencies paid in."""
    parts = []
    actual, estimated = Decimal(row["fees_actual_usd"]), Decimal(row["fees_estimated_usd"])
    if actual or estimated:
        said = [f"{money(actual)} Stripe's own"] if actual else []
        said += [f"{money(estimated)} estimated"] if estimated else []
        parts.append("fees " + " + ".join(said))
    if Decimal(row.get("disputes_usd") or 0):
        parts.append(f"disputes {money(row['disputes_usd'])}")
    if any(c["currency"] != "usd" for c in row.get("currencies", [])):
        paid = ", ".join(
            f"{c['currency'].upper()} {Decimal(c['revenue']):,.2f}"
            + (f" ({money(c['revenue_usd'])})" if c["currency"] != "usd" else "")
            for c in row["currencies"]
        )
        parts.append(f"paid in {paid}")
    return "; ".join(parts)


@app.command()
def whatif(
    swap: Annotated[
        str,
        typer.Option(help="SERVICE:MODEL=SERVICE:MODEL, e.g. anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5"),
    ],
    agent: Annotated[list[str] | None, typer.Option(help="only these agents (repeatable)")] = None,
    mode: Annotated[list[str] | None, typer.Option(help="only these modes (repeatable)")] = None,
    tier: Annotated[list[str] | None, typer.Option(help="only these tiers (repeatable)")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Reprice a past period with another model (real token counts): savings and new margin per plan."""
    from ..margins import Swap, what_if

    try:
        parsed = Swap.parse(swap)
    except ValueError as exc:
        fail(f"--swap: {exc}", 2)
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    ledger = open_ledger(db, config)
    try:
        report = what_if(ledger.store, ledger.config, ledger.catalog, parsed, agents=agent or [], modes=mode or [],
                         tiers=tier or [], since=first, until=last)  # fmt: skip
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        ledger.close()
    data = report.as_dict()
    if report.repricing.matched == 0 and report.repricing.not_priceable:
        fail(f"{parsed.to_service}:{parsed.to_model} cannot price these events (unknown model or meter)", 3)
    if as_json:
        print(json.dumps(data))
        return
    console.print(
        f"{swap} from {data['since']} to {data['until']}: {data['events']:,} events, "
        f"{money(data['old_cost_usd'])} → {money(data['new_cost_usd'])}, saving {money(data['savings_usd'])} "
        f"({money(data['savings_per_month_usd'])}/month)"
    )
    rows = [{**row, "plan": row["plan"] or "(no plan)"} for row in data["plans"]]
    show(console, rows, [Column("plan", "plan"), Column("savings_usd", "savings", MONEY),
                         Column("margin_usd", "margin", MONEY), Column("new_margin_usd", "new margin", MONEY)],
         "Per plan")  # fmt: skip
    skipped = {k: data[k] for k in ("skipped_reported", "skipped_unpriced", "not_priceable") if data[k]}
    if skipped:
        console.print("not repriced: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in skipped.items()))
    for line in data["assumptions"]:
        note(console, line, "-")


@app.command()
def advice(
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """What to change, what it is worth per month, and what each figure assumes."""
    from ..margins import recommendations_json

    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    ledger = open_ledger(db, config)
    try:
        data = recommendations_json(ledger, first, last)
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        ledger.close()
    if as_json:
        print(json.dumps(data))
        return
    if not data["recommendations"]:
        console.print("No advice: nothing to save that the data shows.")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column()
    for item in data["recommendations"]:
        worth = f"{money(item['usd_per_month'])}/month" if item["usd_per_month"] is not None else "cost unknown"
        grid.add_row(Text(worth, style="bold"), Text(item["title"]))
        for line in item["assumptions"]:
            grid.add_row("", Text(f"assumes {line}", style="dim"))
    console.print(grid)
