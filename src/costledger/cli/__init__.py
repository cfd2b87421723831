"""The `costledger` command: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

from . import commands as _commands  # noqa: F401  (registers the commands)
from .app import app


def main() -> None:
    import sys

    from .. import clock
    from ..errors import ConfigError

    try:
        clock.current()  # a malformed $COSTLEDGER_NOW is one line here, not a traceback later
    except ConfigError as exc:
        print(f"costledger: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app()


__all__ = ["app", "main"]
