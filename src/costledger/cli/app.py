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
    """A YYYY-MM-DD day inside the window of costledger.dates."""
    from .. import dates

    if value is None:
        return None
    try:
        return dates.parse_day(value)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)


def parse_moment(value: str | None, option: str) -> dt.datetime | None:
    """A date (midnight UTC) or an RFC 3339 time with offset, inside the window of costledger.dates."""
    from .. import dates

    if value is None:
        return None
    try:
        if len(value) == 10:
            return dt.datetime.combine(dates.parse_day(value), dt.time(), dt.UTC)
        return dates.parse_instant(value)
    except ValueError as exc:
        fail(f"{option}: a date or an RFC 3339 time such as 2026-11-01T10:00:00Z; {exc}", 2)


def open_ledger(db: str | None, config: str | None) -> object:
    from ..errors import ConfigError
    from ..ledger import Ledger

    try:
        return Ledger(db, config=config)
    except ConfigError as exc:
        fail(str(exc), 2)
