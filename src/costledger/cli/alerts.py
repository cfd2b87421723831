"""`costledger alerts add|list|remove|history|ack|deliver` and `costledger tail`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from .app import ConfigOption, DbOption, JsonOption, app, console, fail, open_ledger, parse_moment
from .output import Column, note, show

alerts_app = typer.Typer(help="Alert rules, fired alerts and their delivery.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


def _ledger(db: str | None, config: str | None, create: bool = False) -> Any:
    return open_ledger(db, config, create=create)


@alerts_app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help="session_total, daily_total, monthly_total, unpriced, spike, forecast")],
    threshold: Annotated[
        str | None, typer.Option("--threshold", help="USD, e.g. 50 (spike: least cost to alert)")
    ] = None,
    per: Annotated[str | None, typer.Option(help="user, agent, tier, mode or service")] = None,
    only: Annotated[str | None, typer.Option(help="only this user/agent/tier/mode/service (with --per)")] = None,
    factor: Annotated[str | None, typer.Option(help="spike: today over FACTOR × the 7-day average (default 3)")] = None,
    min_events: Annotated[int | None, typer.Option(help="unpriced: events in a day before alerting")] = None,
    channel: Annotated[list[str] | None, typer.Option(help="channel name from [channels.NAME] (repeatable)")] = None,
    name: Annotated[str | None, typer.Option(help="the rule's name (default: made from its settings)")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add an alert rule (stored in the database, seen by every process at once)."""
    from ..pricing.entries import EntryError

    spec: dict[str, Any] = {"kind": kind}
    for key, value in (("threshold_usd", threshold), ("per", per), ("only", only), ("factor", factor),
                       ("min_events", min_events), ("name", name)):  # fmt: skip
        if value is not None:
            spec[key] = value
    if channel:
        spec["channels"] = channel
    ledger = _ledger(db, config, create=True)
    try:
        rule = ledger.alerts.add_rule(spec)
    except EntryError as exc:
        fail(f"--{exc.key.replace('_usd', '').replace('_', '-')}: {str(exc).split(': ', 1)[1]}", 2)
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        ledger.close()
    print(f"added rule {rule.id}: {rule.name} ({rule.describe()}) → {', '.join(rule.channels)}")


@alerts_app.command("list")
def list_rules(db: DbOption = None, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Every rule in force: built-in defaults, environment, costledger.toml and CLI-added."""
    ledger = _ledger(db, config)
    rules = ledger.alerts.all_rules()
    ledger.close()
    if as_json:
        print(json.dumps([{"id": r.id, "name": r.name, "source": r.source, **r.spec()} for r in rules], indent=2))
        return
    rows = [{"id": rule.id or "", "name": rule.name, "source": rule.source, "what": rule.describe(),
             "channels": ", ".join(rule.channels)} for rule in rules]  # fmt: skip
    columns = [Column("id", "id", "id"), Column("name", "name"), Column("source", "source", drop=1),
               Column("what", "what"), Column("channels", "channels")]  # fmt: skip
    show(console, rows, columns, "Alert rules")


@alerts_app.command("remove")
def remove(
    rule_id: Annotated[int, typer.Argument(help="the id `alerts list` shows (CLI-added rules only)")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a CLI-added rule."""
    ledger = _ledger(db, config)
    removed = ledger.alerts.remove_rule(rule_id)
    ledger.close()
    if not removed:
        fail(f"no CLI-added rule {rule_id} (rules from costledger.toml or the environment are changed there)", 1)
    print(f"removed rule {rule_id}")


@alerts_app.command("history")
def history(
    since: Annotated[str | None, typer.Option(help="fired at or after (date or RFC 3339 time)")] = None,
    kind: Annotated[str | None, typer.Option(help="only this kind")] = None,
    unacked: Annotated[bool, typer.Option("--unacked", help="only alerts nobody acknowledged")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fired alerts, newest first, with their figures and deliveries."""
    moment = parse_moment(since, "--since")
    ledger = _ledger(db, config)
    alerts = ledger.alerts.history(
        since=moment.replace(tzinfo=None) if moment else None, kind=kind, unacked=unacked, limit=limit
    )
    ledger.close()
    if as_json:
        print(json.dumps([a.as_dict() for a in alerts], indent=2))
        return
    # Like a log: a line saying which alert, when and where it went, then its message, wrapped to fit.
    for alert in alerts:
        delivery = ", ".join(f"{d.channel} {d.status}" for d in alert.deliveries)
        acked = f"; acked by {alert.acked_by or 'someone'}" if alert.acked_at else ""
        console.print(f"#{alert.id} {alert.fired_at:%Y-%m-%d %H:%M:%S}Z \\[{alert.rule}] ({delivery}{acked})",
                      highlight=False)  # fmt: skip
        note(console, alert.message, lead=" ", style="")


@alerts_app.command("ack")
def ack(
    ids: Annotated[list[int], typer.Argument(help="alert ids (from `alerts history`)")],
    by: Annotated[str | None, typer.Option(help="who is on it")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge alerts."""
    ledger = _ledger(db, config)
    count = ledger.alerts.ack(ids, by)
    ledger.close()
    print(f"acknowledged {count} alert(s)")


@alerts_app.command("check")
def check(db: DbOption = None, config: ConfigOption = None) -> None:
    """Evaluate the scheduled rules now (plan margins at their limit); the delivery worker runs them every 5 min."""
    ledger = _ledger(db, config)
    try:
        fired = ledger.alerts.check_plans()
    finally:
        ledger.close()
    print(json.dumps({"fired": fired}))


@alerts_app.command("deliver")
def deliver(
    once: Annotated[bool, typer.Option("--once", help="try what is due once, then exit")] = False,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the delivery worker: send queued alerts (and publish the bus outbox) until interrupted."""
    import time

    ledger = _ledger(db, config, create=True)
    try:
        if once:
            sent = ledger.alerts.deliver_pending()
            published = ledger.alerts.publish_pending()
            print(json.dumps({"attempted": sent, "published": published}))
            return
        ledger.alerts.start(interval)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ledger.alerts.stop()
        ledger.close()


@app.command()
def tail(
    url: Annotated[
        str | None,
        typer.Option(help="NATS URL (default: [channels.bus] url, $COSTLEDGER_BUS_URL, or nats://127.0.0.1:4222)"),
    ] = None,
    subject: Annotated[str, typer.Option(help="subject filter")] = "costledger.>",
    limit: Annotated[int | None, typer.Option(min=1, help="exit after this many messages")] = None,
    config: ConfigOption = None,
) -> None:
    """Print the live event bus: every priced event and alert, one line each (subject, then JSON)."""
    import asyncio

    from ..bus import bus_url
    from ..bus import tail as run_tail
    from ..config import load_config
    from ..errors import ConfigError

    if url is None:
        try:
            url = bus_url(load_config(config)) or "nats://127.0.0.1:4222"
        except ConfigError as exc:
            fail(str(exc), 2)
    try:
        asyncio.run(run_tail(url, subject, limit=limit))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"cannot reach NATS at {url}: {exc}", 1)
