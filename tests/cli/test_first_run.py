"""A new user's first run: the demo, then every README command with no flags, on one ledger, at 80 columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costledger.cli import app
from costledger.keys import KeyVerifier
from costledger.store import Store

COSTLEDGER = str(Path(sys.executable).with_name("costledger"))
runner = CliRunner()
# The README's command table, as a person types it after `make demo` (whatif needs its swap).
README_COMMANDS = [
    ["overview"], ["sessions"], ["report"], ["report", "--by", "service,user"], ["margins"], ["advice"],
    ["whatif", "--swap", "anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5", "--agent", "synthesizer"],
    ["keys", "list"], ["alerts", "list"], ["alerts", "history"], ["db", "check"], ["reprice", "--history"],
]  # fmt: skip


def _env(home: Path) -> dict[str, str]:
    """The user's shell: no COSTLEDGER_DB (the suite sets one), a data directory of their own, 80 columns."""
    env = {k: v for k, v in os.environ.items() if k not in ("COSTLEDGER_DB", "COSTLEDGER_DATABASE_URL")}
    return {**env, "XDG_DATA_HOME": str(home / "data"), "COLUMNS": "80"}


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COSTLEDGER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project directory where `costledger demo --no-serve` ran (14 days, to keep the suite quick)."""
    here = tmp_path_factory.mktemp("project")
    env = _env(here)
    done = run("demo", "--no-serve", "--days", "14", "--seed", "3", cwd=here, env=env)
    assert done.returncode == 0, done.stderr
    yield here, env


def test_the_demo_names_its_ledger_in_the_config_here(demo: tuple[Path, dict[str, str]]) -> None:
    here, _ = demo
    text = (here / "costledger.toml").read_text(encoding="utf-8")
    assert 'database = "costledger-demo/ledger.db"' in text.splitlines()[:5]
    assert (here / "costledger-demo" / "ledger.db").is_file()


@pytest.mark.parametrize("command", README_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_readme_command_reads_the_demo_with_no_flags_at_80_columns(
    demo: tuple[Path, dict[str, str]], command: list[str]
) -> None:
    here, env = demo
    done = run(*command, cwd=here, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the ledger is the one ./costledger.toml names: nothing to point out
    assert done.stdout.strip()
    too_wide = [line for line in done.stdout.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    assert not (here / "data" / "costledger").exists()  # the user data directory was never touched


def test_a_command_ends_without_teardown_yet_every_byte_and_status_arrives(
    demo: tuple[Path, dict[str, str]],
) -> None:
    # The command line leaves with os._exit once a command is done (cli._leave): its output, larger
    # than a pipe holds, still arrives whole through the pipe, and its exit status is the command's.
    here, env = demo
    command = ["report", "--by", "session,service,agent", "--csv"]
    piped = run(*command, cwd=here, env=env)
    assert piped.returncode == 0, piped.stderr
    ledger = ["--db", str(here / "costledger-demo" / "ledger.db"), "--config", str(here / "costledger.toml")]
    in_process = runner.invoke(app, [*command, *ledger], env={"COLUMNS": "80"})
    assert in_process.exit_code == 0, in_process.output
    assert len(piped.stdout) > 65_536 and piped.stdout == in_process.stdout
    missing = run("session", "no-such-session", cwd=here, env=env)
    assert (missing.returncode, missing.stdout) == (1, "") and "no-such-session" in missing.stderr
    assert run("db", "check", "--json", cwd=here, env=env).stdout.strip() == "[]"


def test_margins_use_the_demo_plans_and_sessions_show_whole_ids(demo: tuple[Path, dict[str, str]]) -> None:
    here, env = demo
    margins = run("margins", cwd=here, env=env).stdout
    assert "creator" in margins and "professional" in margins and "(no plan)" not in margins
    data = json.loads(run("sessions", "--json", "--limit", "5", cwd=here, env=env).stdout)
    table = run("sessions", "--limit", "5", cwd=here, env=env).stdout
    for session in data["sessions"]:
        assert session["session_id"] in table and session["user_id"] in table
    assert "…" not in table


def test_from_a_subdirectory_the_same_ledger_and_a_line_saying_which(demo: tuple[Path, dict[str, str]]) -> None:
    here, env = demo
    below = here / "src" / "app"
    below.mkdir(parents=True, exist_ok=True)
    done = run("overview", "--json", cwd=below, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(run("overview", "--json", cwd=here, env=env).stdout)
    ledger, config = here / "costledger-demo" / "ledger.db", here / "costledger.toml"
    assert done.stderr == f"costledger: ledger {ledger} (named by {config})\n"


def test_the_key_the_login_page_asks_for_opens_the_demo_dashboard(demo: tuple[Path, dict[str, str]]) -> None:
    here, env = demo
    done = run("keys", "create", "--scope", "admin", "--name", "you", cwd=here, env=env)
    assert done.returncode == 0, done.stderr
    store = Store(str(here / "costledger-demo" / "ledger.db"))
    try:
        found = KeyVerifier(store).verify(done.stdout.strip())
    finally:
        store.close()
    assert found is not None and found.active and found.scope == "admin"


# -- no config: the default ledger is named, and never created by a command that only reads ---------


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with no costledger.toml above it and no $COSTLEDGER_DB: the default ledger applies."""
    monkeypatch.delenv("COSTLEDGER_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "costledger" / "ledger.db"


@pytest.mark.parametrize(
    "command",
    [["overview"], ["sessions"], ["report"], ["margins"], ["advice"], ["session", "x"], ["keys", "list"],
     ["alerts", "history"], ["db", "check"], ["reprice", "--history"]],
    ids=lambda c: " ".join(c),
)  # fmt: skip
def test_a_read_only_command_refuses_to_create_the_default_ledger(nowhere: Path, command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert result.stderr.startswith("costledger: no ledger at ") and "(the default" in result.stderr
    assert "--db" in result.stderr and 'database = "…"' in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not nowhere.exists() and not nowhere.parent.exists()


def test_a_command_that_records_creates_the_default_ledger_and_says_so(nowhere: Path) -> None:
    event = '{"service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 60}}'
    result = runner.invoke(app, ["record", "--json", event])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("costledger: ledger ") and "(the default: no --db" in result.stderr
    assert nowhere.is_file()
    assert runner.invoke(app, ["overview", "--json"]).exit_code == 0  # now there is one to read


def test_the_environment_and_an_explicit_db_are_named_or_not(tmp_path: Path) -> None:
    event = '{"service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 60}}'
    first = runner.invoke(app, ["record", "--json", event])  # $COSTLEDGER_DB, from the suite's fixture
    assert first.exit_code == 0 and first.stderr == "costledger: ledger default-ledger.db (from $COSTLEDGER_DB)\n"
    given = runner.invoke(app, ["report", "--db", str(tmp_path / "default-ledger.db")])
    assert given.exit_code == 0 and given.stderr == ""  # said on the command line: nothing to add
    missing = runner.invoke(app, ["report", "--db", str(tmp_path / "typo.db")])
    assert missing.exit_code == 1 and "no ledger at typo.db (given)" in missing.stderr
    assert not (tmp_path / "typo.db").exists()


def test_a_config_given_with_config_is_plain_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTLEDGER_DB")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "team.toml").write_text('database = "team.db"\n', encoding="utf-8")
    created = runner.invoke(app, ["keys", "create", "--name", "ci", "--config", str(elsewhere / "team.toml")])
    assert created.exit_code == 0, created.output
    assert (elsewhere / "team.db").is_file()
    assert "costledger: ledger" not in created.stderr
