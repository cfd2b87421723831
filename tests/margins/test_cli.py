"""`costledger margins`, `whatif` and `advice` on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app

from .conftest import CONFIG, record_october


def _prepare(tmp_path: Path) -> list[str]:
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with Ledger(tmp_path / "cli.db", config=config) as ledger:
        record_october(ledger)
    return ["--db", str(tmp_path / "cli.db"), "--config", str(config)]


def test_margins_json_and_table(tmp_path: Path) -> None:
    common = _prepare(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["margins", "--month", "2026-10", "--json", *common])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["months"][0]["total"]["margin_usd"] == "22.277"
    table = runner.invoke(app, ["margins", *common])
    assert table.exit_code == 0 and "creator" in table.stdout and "negative" in table.stdout
    bad = runner.invoke(app, ["margins", "--month", "October", *common])
    assert bad.exit_code == 2 and "expected a month such as 2026-11" in bad.output


def test_whatif_and_advice(tmp_path: Path) -> None:
    common = _prepare(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["whatif", "--swap", "anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5",
                               "--agent", "synthesizer", "--since", "2026-10-01", "--until", "2026-10-31", "--json",
                               *common])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["savings_usd"] == "0.3"
    bad = runner.invoke(app, ["whatif", "--swap", "haiku", *common])
    assert bad.exit_code == 2 and "SERVICE:MODEL=SERVICE:MODEL" in bad.output
    unknown = runner.invoke(app, ["whatif", "--swap", "anthropic:claude-sonnet-4-0=anthropic:nope", *common])
    assert unknown.exit_code == 3
    advice = runner.invoke(app, ["advice", "--since", "2026-10-01", "--until", "2026-10-30", *common])
    assert advice.exit_code == 0, advice.output
    assert "$6.65/month" in advice.stdout and "assumes" in advice.stdout
