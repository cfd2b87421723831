"""Which ledger a `Ledger()`, a command or the server opens, and what chose it.

Highest first: the target given (`--db`, `Ledger(path)`), $COSTLEDGER_DATABASE_URL,
$COSTLEDGER_DB, the `database` a costledger.toml names (found from the working
directory upwards), then `ledger.db` in the user's data directory. The CLI says on
stderr which one it opened when that was not plain from the command line, because two
ledgers that each look fine but disagree are the hardest mistake to see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import ENV_PATH, ENV_URL, default_path

if TYPE_CHECKING:
    from ..config import Config

GIVEN, ENV, CONFIG, DEFAULT = "given", "environment", "config", "default"


@dataclass(frozen=True)
class Location:
    target: str  # a SQLite path or a database URL, as Store() takes it
    source: str  # GIVEN, ENV, CONFIG or DEFAULT
    named_by: str | None = None  # the environment variable or costledger.toml that named it

    @property
    def is_file(self) -> bool:
        return "://" not in self.target

    @property
    def exists(self) -> bool:
        """A URL is taken to exist (the server says otherwise); a SQLite file must be there."""
        return not self.is_file or Path(self.target).expanduser().is_file()

    def display(self) -> str:
        """The path as short as it reads unambiguously, or the URL without its password."""
        if not self.is_file:
            from sqlalchemy.engine import make_url

            try:
                return make_url(self.target).render_as_string(hide_password=True)
            except Exception:  # not a URL SQLAlchemy parses: Store() will say so
                return self.target
        return _short(Path(self.target).expanduser())

    def why(self) -> str:
        if self.source == GIVEN:
            return "given"
        if self.source == ENV:
            return f"from ${self.named_by}"
        if self.source == CONFIG:
            return f"named by {_short(Path(self.named_by or ''))}"
        return "the default: no --db, $COSTLEDGER_DB or costledger.toml names a ledger"

    def describe(self) -> str:
        return f"{self.display()} ({self.why()})"


def locate(target: str | os.PathLike[str] | None, config: Config | None = None) -> Location:
    """Where the ledger is: see the module's docstring for the order."""
    if target is not None:
        return Location(str(target), GIVEN)
    for name in (ENV_URL, ENV_PATH):
        value = os.environ.get(name)
        if value:
            return Location(value, ENV, name)
    if config is not None and config.database:
        return Location(config.database, CONFIG, str(config.path) if config.path else None)
    return Location(str(default_path()), DEFAULT)


def _short(path: Path) -> str:
    """Relative to the working directory when inside it, else with ~ for the home directory."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        pass
    home = Path.home()
    try:
        return str(Path("~") / absolute.relative_to(home))
    except ValueError:
        return str(absolute)


__all__ = ["CONFIG", "DEFAULT", "ENV", "GIVEN", "Location", "locate"]
