"""The `costledger` command: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

from . import commands as _commands  # noqa: F401  (registers the commands)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
