"""The Typer application and the options every command shares."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from .help import TaskGroup

if TYPE_CHECKING:
    from ..config import Config
    from ..ledger import Ledger
    from ..store import Store
    from ..store.location import Location

app = typer.Typer(
    name="costledger",
    help="Track what AI agents really cost: price usage, keep the ledger, report, alert.",
    cls=TaskGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console()
errors = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", "--database-url", help="SQLite file or postgresql:// URL (default: $COSTLEDGER_DATABASE_URL, "
                 "$COSTLEDGER_DB, the config's database, or the user data dir)", envvar=None),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", help="costledger.toml (default: $COSTLEDGER_CONFIG, or the nearest one from here up)"),
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


def load(config: str | None) -> Config:
    """The costledger.toml in force (--config, $COSTLEDGER_CONFIG, or found upwards); exit 2 if it is wrong."""
    from ..config import load_config
    from ..errors import ConfigError

    try:
        return load_config(config)
    except ConfigError as exc:
        fail(str(exc), 2)


def find_ledger(db: str | None, config: str | None, loaded: Config, *, create: bool) -> Location:
    """Which ledger to open. Says which on stderr unless --db or the config here or given named it;
    refuses (exit 1) a SQLite file that is not there unless the command records (`create`)."""
    from ..store.location import CONFIG, GIVEN, locate

    location = locate(db, loaded)
    if not location.exists and not create:
        fail(
            f"no ledger at {location.describe()}; nothing was recorded there. Record events first (`costledger "
            'record`, `make demo`), or name your ledger with --db or database = "…" in costledger.toml',
            1,
        )
    named_here = location.source == CONFIG and (
        config is not None or Path(location.named_by or "").resolve().parent == Path.cwd().resolve()
    )
    if location.source != GIVEN and not named_here:
        print(f"costledger: ledger {location.describe()}", file=sys.stderr)
    return location


def open_ledger(db: str | None, config: str | None, *, create: bool = False) -> Ledger:
    """The Ledger a command reads (or, with `create`, records into); see find_ledger."""
    from ..errors import ConfigError
    from ..ledger import Ledger

    loaded = load(config)
    location = find_ledger(db, config, loaded, create=create)
    try:
        return Ledger(location.target, config=loaded)
    except ConfigError as exc:
        fail(str(exc), 2)


def open_store(db: str | None, config: str | None, *, create: bool = False, upgrade: bool = True) -> Store:
    """The store alone (keys, migrations, checks): no price catalog or alert rules to load."""
    from ..store import Store

    loaded = load(config)
    location = find_ledger(db, config, loaded, create=create)
    try:
        return Store(location.target, upgrade=upgrade, storage=loaded.storage)
    except Exception as exc:  # a bad URL or an unreachable server: one line, not a traceback
        fail(f"cannot open the database {location.display()}: {exc}", 2)
