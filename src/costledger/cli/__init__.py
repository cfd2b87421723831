"""The `costledger` command: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

import gc

# A command is a short process that makes many objects and few reference cycles: with the default
# thresholds the cyclic collector's passes (over every object imported so far) were 10-20% of a read
# command's time (`python -m bench cli`). Rarer passes still collect in long commands (serve, import).
gc.set_threshold(50_000, 20, 20)

# Set before anything is imported: importing is most of a command's allocations.
from . import commands as _commands  # noqa: E402, F401  (registers the commands)
from .app import app  # noqa: E402


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
