"""`costledger price` and `costledger prices`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import clock
from ..pricing.entries import describe
from .app import ConfigOption, JsonOption, app, console, fail, parse_moment


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
    meter: Annotated[list[str] | None, typer.Option(help="a custom meter priced in your config: NAME=QUANTITY")] = None,
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
    for item in meter or []:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"--meter: expected NAME=QUANTITY, got {item!r}", 2)
        raw[name.strip()] = value.strip()
    moment = parse_moment(at, "--at") or clock.now()
    try:
        usage = readings(raw, catalog.custom_meters)
        cost = catalog.price(service, model, usage, moment)
    except UnknownPrice as exc:
        fail(str(exc), 3)
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        print(json.dumps({**cost.as_dict(), "at": moment.isoformat()}))
        return
    data = cost.as_dict()
    table = Table(title=f"{cost.entry.service}:{cost.entry.model} at {moment:%Y-%m-%d %H:%M} UTC")
    table.add_column("meter")
    table.add_column("cost (USD)", justify="right")
    for name, amount in data["breakdown"].items():
        table.add_row(name, amount)
    table.add_row("[bold]total[/bold]", f"[bold]{data['cost_usd']}[/bold]")
    console.print(table)
    console.print(f"priced by {cost.entry.ref} — {cost.entry.source}", style="dim")


@app.command()
def prices(
    service: Annotated[list[str] | None, typer.Option(help="only these services (repeatable)")] = None,
    at: Annotated[str | None, typer.Option(help="the catalog as of this date (default: now)")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The catalog in force: every price with its source and effective date."""
    catalog = _catalog(config)
    moment = parse_moment(at, "--at") or clock.now()
    entries = catalog.in_force(moment, service or None)
    rows = [describe(e) for e in entries]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"Prices in force at {moment:%Y-%m-%d}")
    for column in ("service", "model", "rates", "since", "kind", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["service"], row["model"], "; ".join(row["rates"]), row["since"] or "", row["kind"], row["source"]
        )
    console.print(table)
