"""How `costledger --help` reads: commands grouped by task, in the order people need them.

Typer builds each click command when the command line is parsed; the group below
puts every command in its panel and takes the type label off flags (a flag takes
no value, so `--json <bool>` only reads as if it wanted one).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

# Panel → its commands, in help order. tests/cli/test_help.py checks that every command is in one.
PANELS: dict[str, tuple[str, ...]] = {
    "Record usage": ("record", "import", "demo"),
    "Look at costs": ("overview", "sessions", "session", "report", "tail"),
    "Money: prices, margins, advice": ("price", "prices", "margins", "whatif", "advice"),
    "Operate: server, keys, alerts, database": ("serve", "keys", "alerts", "db", "reprice"),
}
_PANEL_OF = {name: panel for panel, names in PANELS.items() for name in names}
_ORDER = {name: i for i, name in enumerate(_PANEL_OF)}


# What an option's value is, in the words of a usage line (`--limit N`, not `--limit INTEGER RANGE`),
# by the name of its click type.
_METAVARS = {"str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER"}


# Typer carries its own copy of click, so commands and contexts are typed loosely here.
def tidy(command: Any, ctx: Any) -> Any:
    """Flags (`--help` too) without a type label, values named plainly; every subcommand too (idempotent)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        kind = getattr(param, "param_type_name", "")
        if param is None or param.metavar is not None or kind not in ("option", "argument"):
            continue
        if kind == "argument":  # `costledger session SESSION_ID`, as usage lines name what to type
            param.metavar = param.name.upper()
        else:
            param.metavar = "" if param.is_flag else _METAVARS.get(param.type.name)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub, ctx)
    return command


class TaskGroup(TyperGroup):
    """The top-level `costledger` group: commands listed by task panel."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(super().list_commands(ctx), key=lambda name: _ORDER.get(name, len(_ORDER)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command: Any = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        if cmd_name in _PANEL_OF:
            command.rich_help_panel = _PANEL_OF[cmd_name]
        return tidy(command, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self, ctx)
        super().format_help(ctx, formatter)


__all__ = ["PANELS", "TaskGroup", "tidy"]
