"""The Typer application and the options every command shares."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="costledger",
    help="Track what AI agents really cost: price usage, keep the ledger, report, alert.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console()
errors = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", "--database-url", help="SQLite file or postgresql:// URL (default: $COSTLEDGER_DATABASE_URL, "
                 "$COSTLEDGER_DB, or the user data dir)", envvar=None),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
ConfigOption = Annotated[
    str | None, typer.Option("--config", help="costledger.toml (default: $COSTLEDGER_CONFIG or ./costledger.toml)")
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: what a script calling us can act on."""
    print(f"costledger: {message}", file=sys.stderr)
    raise typer.Exit(code)


def parse_day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: expected a date such as 2026-11-01, got {value!r}", 2)


def parse_moment(value: str | None, option: str) -> dt.datetime | None:
    """A date (midnight UTC) or an RFC 3339 timestamp with offset."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: expected a date or RFC 3339 time such as 2026-11-01T10:00:00Z, got {value!r}", 2)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def open_ledger(db: str | None, config: str | None) -> object:
    from ..errors import ConfigError
    from ..ledger import Ledger

    try:
        return Ledger(db, config=config)
    except ConfigError as exc:
        fail(str(exc), 2)
