"""`costledger price` and `costledger prices`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from .. import clock
from ..pricing.entries import short_rates, summarize
from .app import ConfigOption, JsonOption, app, console, fail, parse_moment
from .output import ID, RATE, Column, show


def _catalog(config: str | None) -> Any:
    from ..config import load_config
    from ..errors import ConfigError
    from ..pricing.catalog import catalog_from_config

    try:
        return catalog_from_config(load_config(config))
    except ConfigError as exc:
        fail(str(exc), 2)


@app.command()
def price(
    service: Annotated[str, typer.Argument(help="anthropic, openai, google, deepgram, cartesia, livekit, stripe…")],
    model: Annotated[str | None, typer.Argument(help="model / product / plan (optional for livekit, stripe)")] = None,
    input_tokens: Annotated[int | None, typer.Option(help="all prompt tokens, cached ones included")] = None,
    output_tokens: Annotated[int | None, typer.Option()] = None,
    cache_read_tokens: Annotated[int | None, typer.Option()] = None,
    cache_write_tokens: Annotated[int | None, typer.Option()] = None,
    web_searches: Annotated[int | None, typer.Option()] = None,
    requests: Annotated[int | None, typer.Option()] = None,
    audio_seconds: Annotated[str | None, typer.Option()] = None,
    characters: Annotated[int | None, typer.Option()] = None,
    participant_minutes: Annotated[str | None, typer.Option()] = None,
    amount_usd: Annotated[str | None, typer.Option()] = None,
    usage: Annotated[
        list[str] | None,
        typer.Option("--usage", "--meter", help="any meter, e.g. cache_write_1h_tokens=5000 (repeatable): METER=N"),
    ] = None,
    service_tier: Annotated[str | None, typer.Option(help="batch, flex, priority, fast… (default: standard)")] = None,
    at: Annotated[str | None, typer.Option(help="price as of this date or time (default: now)")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Price one usage with the catalog in force at --at."""
    from ..errors import UnknownPrice
    from ..pricing import readings

    catalog = _catalog(config)
    raw: dict[str, Any] = {
        name: value
        for name, value in {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "web_searches": web_searches,
            "requests": requests,
            "audio_seconds": audio_seconds,
            "characters": characters,
            "participant_minutes": participant_minutes,
            "amount_usd": amount_usd,
        }.items()
        if value is not None
    }
    for item in usage or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--usage: expected METER=N, got {item!r}", 2)
        raw[name.strip()] = value.strip()
    moment = parse_moment(at, "--at") or clock.now()
    try:
        cost = catalog.price(service, model, readings(raw, catalog.custom_meters), moment, service_tier)
    except UnknownPrice as exc:
        fail(str(exc), 3)
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        print(json.dumps({**cost.as_dict(), "at": moment.isoformat()}))
        return
    data = cost.as_dict()
    # The exact amounts, as prices are shown: one call's cost is often less than a cent.
    rows = [{"meter": name, "cost": amount} for name, amount in data["breakdown"].items()]
    title = f"{cost.entry.service}:{cost.entry.model} at {moment:%Y-%m-%d %H:%M} UTC"
    show(console, [*rows, {"meter": "total", "cost": data["cost_usd"]}], _PRICE_COLUMNS, title,
         styles=[*(None,) * len(rows), "bold"])  # fmt: skip
    console.print(f"priced by {cost.entry.ref} — {cost.entry.source}", style="dim")
    if cost.entry.confidence == "unconfirmed":
        console.print("unconfirmed: no public page we could read states this rate; override it with what you pay")


prices_app = typer.Typer(help="The price catalog in force, and fetching newer genai-prices data.")
app.add_typer(prices_app, name="prices")


@prices_app.callback(invoke_without_command=True)
def prices(
    ctx: typer.Context,
    service: Annotated[list[str] | None, typer.Option(help="only these services (repeatable)")] = None,
    at: Annotated[str | None, typer.Option(help="the catalog as of this date (default: now)")] = None,
    long: Annotated[bool, typer.Option("--long", help="every rate, date, source and note of every entry")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The catalog in force: one row per model (per MTok), then the other services, with confidence."""
    if ctx.invoked_subcommand is not None:
        return
    catalog = _catalog(config)
    moment = parse_moment(at, "--at") or clock.now()
    entries = catalog.in_force(moment, service or None)
    rows = [summarize(e) for e in entries]
    if as_json:
        print(json.dumps(rows))
        return
    info = catalog.data_info()
    if info:
        where = "bundled with the package" if info["origin"] == "bundled" else (
            f"fetched {info['fetched_at'][:10]} from {info['source']}")  # fmt: skip
        console.print(f"LLM prices: {info['package']} data, {where}; its latest dated price: {info['data_date']}.",
                      highlight=False)  # fmt: skip
    if long:
        _long_table(rows, moment)
        return
    for row, entry in zip(rows, entries, strict=True):
        row["short"] = short_rates(entry)
    llm = [r for r in rows if r["llm"]]
    other = [r for r in rows if not r["llm"]]
    # Laid out by output.show, as every other table: rich.table measured each of the ~700 cells again
    # (a third of the command's time).
    if llm:
        table: list[dict[str, Any]] = []
        styles: list[str | None] = []
        last = None
        for row in llm:
            if row["service"] != last:  # a line naming the provider, above its models
                table.append({"model": row["service"]})
                styles.append("bold")
                last = row["service"]
            name = row["model"] + (f" ({row['service_tier']})" if row["service_tier"] else "")
            name += "+" if row["long_context"] else ""
            table.append({"model": name, **row["per_mtok"], "from": _origin(row)})
            styles.append(None)
        show(console, table, _LLM_COLUMNS, f"LLM prices, USD per million tokens, at {moment:%Y-%m-%d}", styles=styles)
        console.print("+ has a long-context tier. 1-hour cache writes, audio tokens, tiers: --long", style="dim")
    if other:
        listed = [{"name": f"{row['service']}:{row['model']}" + (f" ({row['plan']} plan)" if row["plan"] else ""),
                   "rate": row["short"], "confidence": row["confidence"]} for row in other]  # fmt: skip
        show(console, listed, _OTHER_COLUMNS, f"Voice, telephony and payments at {moment:%Y-%m-%d}")
        console.print(
            "unconfirmed: no public page we could read states the rate; override it with what you pay"
            " ([[prices]] in costledger.toml); how each bills: --long",
            style="dim",
            markup=False,
        )


# A model's name is never cut (ids are copied); its provider's line is its section. Where the source
# (genai-prices', ours, yours) does not fit, it is the one left out.
_LLM_COLUMNS = [Column("model", "model", ID),
                *(Column(key, key.replace("_", " "), RATE) for key in ("input", "output", "cache_read", "cache_write")),
                Column("from", "from", ID, drop=1)]  # fmt: skip
_PRICE_COLUMNS = [Column("meter", "meter", ID), Column("cost", "USD", RATE)]
_OTHER_COLUMNS = [Column("name", "service:model", ID), Column("rate", "rate"), Column("confidence", "confidence", ID)]


def _origin(row: dict[str, Any]) -> str:
    return {"genai-prices": "genai", "correction": "ours", "builtin": "ours", "override": "yours"}.get(row["kind"], "")


def _long_table(rows: list[dict[str, Any]], moment: Any) -> None:
    table = Table(title=f"Prices in force at {moment:%Y-%m-%d}")
    for column in ("service", "model", "rates", "since", "confidence", "billed", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        model = row["model"] + (f" [{row['service_tier']}]" if row["service_tier"] else "")
        model += f" ({row['plan']} plan)" if row["plan"] else ""
        source = row["source"] + (f" — read {row['read']}" if row["read"] else "") + (
            f" — {row['note']}" if row["note"] else "")  # fmt: skip
        table.add_row(row["service"], Text(model), Text("; ".join(row["rates"])), row["since"] or "",
                      row["confidence"], row["granularity"], Text(source))  # fmt: skip
    console.print(table)


@prices_app.command("update")
def prices_update(
    source: Annotated[
        str | None, typer.Option("--from", help="URL or file of genai-prices data (default: genai-prices' own address)")
    ] = None,
) -> None:
    """Fetch genai-prices' newer price data into the prices directory; every process then prices from it."""
    from genai_prices.update_prices import DEFAULT_UPDATE_URL

    from ..pricing import snapshots
    from ..pricing.llm import current

    try:
        raw, origin = snapshots.fetch(source or DEFAULT_UPDATE_URL)
        stored = snapshots.store(raw, origin)
    except snapshots.SnapshotError as exc:
        fail(f"prices update refused: {exc}; the prices in use stay as they were", 2)
    data = current()
    console.print(f"stored genai-prices data from {stored.source} ({len(data.services())} providers, latest dated"
                  f" price {data.data_date}) in {stored.path}", highlight=False)  # fmt: skip
