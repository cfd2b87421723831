"""`costledger margins`, `costledger whatif` and `costledger advice`."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_day

if TYPE_CHECKING:
    from ..ledger import Ledger

# Ten money columns fit 80 characters without borders.
_COMPACT: dict[str, Any] = {
    "box": box.SIMPLE_HEAD,
    "show_edge": False,
    "pad_edge": False,
    "padding": (0, 1),
    "collapse_padding": True,
}


def _money(value: str | None) -> str:
    """To the cent, as a person reads money: -$5.05."""
    if value is None:
        return ""
    cents = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"-${-cents}" if cents < 0 else f"${cents}"


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

    ledger: Ledger = open_ledger(db, config)  # type: ignore[assignment]
    try:
        data = margins_json(ledger, month)
    except ValueError as exc:
        fail(f"--month: {exc}", 2)
    finally:
        ledger.close()
    if as_json:
        print(json.dumps(data))
        return
    columns = {"plan": "plan", "users": "users", "sessions": "sess", "revenue_usd": "revenue",
               "refunds_usd": "refund", "fees_usd": "fees", "variable_cost_usd": "API", "extra_cost_usd": "extra",
               "fixed_cost_usd": "fixed", "margin_usd": "margin"}  # fmt: skip
    for month_data in data["months"]:
        table = Table(title=f"Margin per plan, {month_data['month']} (to the cent; --json is exact)", **_COMPACT)
        for column, title in columns.items():
            table.add_column(title, justify="left" if column == "plan" else "right")
        for row in month_data["plans"]:
            table.add_row(*(_cell(row, c) for c in columns))
        total = {"plan": "total", **month_data["total"]}
        table.add_row(*(_cell(total, c) for c in columns), style="bold")
        console.print(table)
        for row in month_data["plans"]:
            line = _money_in(row)
            if line:
                console.print(f"[dim]  {escape(row['plan'] or '(no plan)')}: {escape(line)}[/dim]")
    limit = Table(title="Margin at limit (every subscriber uses the whole quota)", **_COMPACT)
    for column in ("plan", "price", "quota", "subs", "seen", "p50 cost", "p50 margin", "p90 cost",
                   "p90 margin", "flag"):  # fmt: skip
        limit.add_column(column, justify="left" if column in ("plan", "flag") else "right")
    for row in data["at_limit"]:
        limit.add_row(
            row["plan"], _money(row["price_usd"]), str(row["included_sessions"] or "-"), str(row["subscribers"]),
            str(row["measured_sessions"]), _money(row["p50"]["cost_usd"]), _money(row["p50"]["margin_usd"]),
            _money(row["p90"]["cost_usd"]), _money(row["p90"]["margin_usd"]), row["flag"],
        )  # fmt: skip
    console.print(limit)
    for line in data["assumptions"]:
        console.print(f"[dim]- {escape(line)}[/dim]")


def _money_in(row: dict[str, Any]) -> str:
    """Where a plan's revenue figures come from: Stripe's own fees or estimates, disputes, currencies paid in."""
    parts = []
    actual, estimated = Decimal(row["fees_actual_usd"]), Decimal(row["fees_estimated_usd"])
    if actual or estimated:
        said = [f"{_money(str(actual))} Stripe's own"] if actual else []
        said += [f"{_money(str(estimated))} estimated"] if estimated else []
        parts.append("fees " + " + ".join(said))
    if Decimal(row.get("disputes_usd") or 0):
        parts.append(f"disputes {_money(row['disputes_usd'])}")
    if any(c["currency"] != "usd" for c in row.get("currencies", [])):
        paid = ", ".join(
            f"{c['currency'].upper()} {Decimal(c['revenue']):,.2f}"
            + (f" ({_money(c['revenue_usd'])})" if c["currency"] != "usd" else "")
            for c in row["currencies"]
        )
        parts.append(f"paid in {paid}")
    return "; ".join(parts)


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return "(no plan)" if column == "plan" else ""
    return _money(value) if column.endswith("_usd") else str(value)


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
    ledger: Ledger = open_ledger(db, config)  # type: ignore[assignment]
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
        f"{swap} from {data['since']} to {data['until']}: {data['events']} events, "
        f"${data['old_cost_usd']} → ${data['new_cost_usd']}, saving ${data['savings_usd']} "
        f"(${data['savings_per_month_usd']}/month)"
    )
    table = Table(title="Per plan")
    for column in ("plan", "savings", "margin", "new margin"):
        table.add_column(column, justify="left" if column == "plan" else "right")
    for row in data["plans"]:
        table.add_row(row["plan"] or "(no plan)", _money(row["savings_usd"]), _money(row["margin_usd"]),
                      _money(row["new_margin_usd"]))  # fmt: skip
    console.print(table)
    skipped = {k: data[k] for k in ("skipped_reported", "skipped_unpriced", "not_priceable") if data[k]}
    if skipped:
        console.print(f"not repriced: {skipped}")
    for line in data["assumptions"]:
        console.print(f"[dim]- {escape(line)}[/dim]")


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
    ledger: Ledger = open_ledger(db, config)  # type: ignore[assignment]
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
    for item in data["recommendations"]:
        worth = f"${item['usd_per_month']}/month" if item["usd_per_month"] is not None else "cost unknown"
        console.print(f"[b]{worth}[/b]  {escape(item['title'])}")
        for line in item["assumptions"]:
            console.print(f"    [dim]assumes {escape(line)}[/dim]")
