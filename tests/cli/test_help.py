"""`costledger --help`: commands grouped by task, every command in a group, no type noise on flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from costledger.cli import app
from costledger.cli.help import PANELS

COSTLEDGER = str(Path(sys.executable).with_name("costledger"))


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([COSTLEDGER, *args, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_command_is_in_exactly_one_task_panel() -> None:
    command = typer.main.get_command(app)
    listed = [name for names in PANELS.values() for name in names]
    assert sorted(listed) == sorted(command.commands)  # type: ignore[attr-defined]
    assert len(listed) == len(set(listed))


def test_the_top_help_lists_commands_by_task_in_order() -> None:
    text = _help()
    positions = [text.index(f"─ {panel} ") for panel in PANELS]
    assert positions == sorted(positions)
    assert "─ Commands " not in text  # nothing left ungrouped
    for panel, names in PANELS.items():
        section = text[text.index(f"─ {panel} ") :].split("╰")[0]
        order = [section.index(f"│ {name} ") for name in names]
        assert order == sorted(order), panel


@pytest.mark.parametrize("args", [(), ("sessions",), ("demo",), ("keys", "list"), ("alerts", "history"), ("db",)])
def test_help_shows_no_type_after_a_flag_and_fits_80_columns(args: tuple[str, ...]) -> None:
    text = _help(*args)
    assert "<bool>" not in text and "<str>" not in text.split("Options")[-1]
    assert all(len(line) <= 80 for line in text.splitlines())
    if args == ("sessions",):
        assert "--limit                    N" in text and "--since                    TEXT" in text
