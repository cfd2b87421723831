"""The `costledger` command: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

import gc
from typing import NoReturn

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
    except SystemExit as exc:  # every command ends here (click's standalone mode), 0 included
        _leave(exc.code)
    except Exception as exc:
        # The storage down or full is no bug of the command: one line, not a traceback.
        from ..store.outage import outage

        why = outage(exc)
        if why is None:
            raise
        print(f"costledger: the storage is unavailable: {why}", file=sys.stderr)
        _leave(1)


def _leave(code: object) -> NoReturn:
    """Exit with `code` as SystemExit would, without the interpreter's teardown.

    A command is done when it returns: its ledger is closed and every write committed. Freeing the
    hundreds of modules and objects a command imported and made, one by one, took 0.14-0.33 s after
    its last line (measured from an atexit handler to the process's end: a fifth of `overview`, a
    quarter of `advice`). The exit handlers still run and both streams are flushed; a command that
    left a thread running exits the ordinary way, which waits for it.
    """
    import atexit
    import contextlib
    import os
    import sys
    import threading

    if threading.active_count() > 1:
        raise SystemExit(code)
    status = 0 if code is None else code if isinstance(code, int) else 1
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # SystemExit("text") prints its text
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe (`costledger prices | head`): as Python exits then
        status = status or 120
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(status)


__all__ = ["app", "main"]
