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
    try:
        app()
    except Exception as exc:
        # The storage down or full is no bug of the command: one line, not a traceback.
        from ..store.outage import outage

        why = outage(exc)
        if why is None:
            raise
        print(f"costledger: the storage is unavailable: {why}", file=sys.stderr)
        raise SystemExit(1) from None


__all__ = ["app", "main"]
