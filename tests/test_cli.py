"""The command line: price, prices, record and report, as scripts call them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costledger.cli import app

COSTLEDGER = str(Path(sys.executable).with_name("costledger"))
runner = CliRunner()


def cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


# -- price ------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_price_json_contract_from_the_installed_command() -> None:
    done = subprocess.run(
        [COSTLEDGER, "price", "anthropic", "claude-sonnet-4-20250514", "--input-tokens", "8000",
         "--output-tokens", "350", "--at", "2026-11-01", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(done.stdout)
    assert data["cost_usd"] == "0.02925" and isinstance(data["cost_usd"], str)
    assert data["breakdown"] == {"input_tokens": "0.024", "output_tokens": "0.00525"}
    assert data["source"].startswith("https://docs.anthropic.com")
    assert data["price_ref"] == "correction:anthropic/claude-sonnet-4-0@2025-08-12"


@pytest.mark.timeout(60)
def test_an_unknown_model_exits_non_zero_with_one_line_on_stderr() -> None:
    done = subprocess.run(
        [COSTLEDGER, "price", "anthropic", "claude-haikuu-4-5", "--input-tokens", "10", "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "did you mean claude-haiku-4-5" in lines[0]


@pytest.mark.parametrize(
    ("args", "cost"),
    [
        (["deepgram", "nova-3", "--audio-seconds", "300"], "0.0215"),
        # 4,200 credits at $49 / 1,250,000 (Startup plan).
        (["cartesia", "sonic-3", "--characters", "4200"], "0.16464"),
        # 10 WebRTC participant minutes at $0.0005.
        (["livekit", "--participant-minutes", "10"], "0.005"),
        # $0.841 + $0.30, rounded half-up to the cent.
        (["stripe", "--amount-usd", "29"], "1.14"),
        (["anthropic", "web-search", "--web-searches", "3"], "0.03"),
        (["openai", "gpt-4o", "--input-tokens", "10000", "--cache-read-tokens", "4000"], "0.02"),
        (["openai", "o3", "--input-tokens", "1000", "--output-tokens", "1000", "--at", "2025-06-01"], "0.05"),
        (["openai", "o3", "--input-tokens", "1000", "--output-tokens", "1000", "--at", "2025-06-11T00:00:00Z"], "0.01"),
    ],
)
def test_price_every_service(args: list[str], cost: str) -> None:
    code, out, _ = cli("price", *args, "--json")
    assert code == 0
    assert Decimal(json.loads(out)["cost_usd"]) == Decimal(cost)


def test_price_with_config_aliases_and_custom_meters(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text(
        '[aliases]\n"fast" = "openai:gpt-4o-mini"\n\n[[prices]]\nservice = "docparse"\nmodel = "v1"\n'
        'since = 2026-01-01\nrates = { pdf_pages = { usd = "0.01", per = 1 } }\n',
        encoding="utf-8",
    )
    code, out, _ = cli("price", "openai", "fast", "--input-tokens", "1000000", "--config", str(config), "--json")
    assert code == 0 and json.loads(out)["cost_usd"] == "0.15"
    code, out, _ = cli("price", "docparse", "v1", "--meter", "pdf_pages=12", "--config", str(config), "--json")
    assert code == 0 and json.loads(out)["cost_usd"] == "0.12"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["openai", "gpt-4o", "--input-tokens", "-5"], "must not be negative"),
        (["openai", "gpt-4o", "--input-tokens", "10", "--cache-read-tokens", "20"], "a part of input_tokens"),
        (["livekit", "--participant-minutes", "nan"], "must be a number"),
        (["openai", "gpt-4o", "--input-tokens", "1", "--at", "someday"], "--at"),
        (["docparse", "v1", "--meter", "pdf_pages"], "METER=N"),
    ],
)
def test_price_refuses_bad_quantities_with_exit_2(args: list[str], words: str) -> None:
    code, out, err = cli("price", *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and words in err


@pytest.mark.timeout(60)
def test_price_without_json_prints_each_meter_exactly_at_80_columns() -> None:
    args = ["price", "anthropic", "claude-sonnet-4-20250514", "--input-tokens", "8000", "--cache-read-tokens", "2000",
            "--output-tokens", "300", "--at", "2026-11-01"]  # fmt: skip
    done = subprocess.run([COSTLEDGER, *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": "80"})  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0] == "anthropic:claude-sonnet-4-0 at 2026-11-01 00:00 UTC" and max(map(len, lines)) <= 80
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:] if line.strip()}
    # Anthropic's published Sonnet 4 rates: $3 per MTok of input (6,000 uncached), $0.30 of cache
    # reads (2,000), $15 of output (300). One call is less than a cent: shown exactly, not as $0.02.
    assert rows["input_tokens"] == ["0.018"] and rows["cache_read_tokens"] == ["0.0006"]
    assert rows["output_tokens"] == ["0.0045"] and rows["total"] == ["0.0231"]
    assert "priced by" in done.stdout and "anthropic.com" in done.stdout


def test_a_bad_config_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[prices]]\nservice = "a"\nsince = "soon"\ninput_per_mtok = "1"\n', encoding="utf-8")
    code, _, err = cli("price", "openai", "gpt-4o", "--input-tokens", "1", "--config", str(config))
    assert code == 2 and "bad.toml:3: prices[0].since" in err


# -- prices -----------------------------------------------------------------------------------------


def test_prices_lists_the_catalog_in_force_with_sources() -> None:
    code, out, _ = cli("prices", "--service", "deepgram", "--service", "anthropic", "--json")
    assert code == 0
    rows = {(r["service"], r["model"]): r for r in json.loads(out)}
    assert rows[("deepgram", "nova-3")]["source"].startswith("https://deepgram.com/pricing")
    assert rows[("deepgram", "nova-3")]["rates"] == ["$0.0043 per 60 audio_seconds",
                                                     "audio_seconds rounded up to 1 per event"]  # fmt: skip
    assert rows[("deepgram", "nova-3")]["confidence"] == "unconfirmed"
    sonnet = rows[("anthropic", "claude-sonnet-4-0")]
    assert sonnet["kind"] == "correction" and "(>200,000 input tokens: $6)" in sonnet["rates"][0]
    assert ("anthropic", "claude-haiku-4-5") in rows
    assert all(r["service"] in ("deepgram", "anthropic") for r in rows.values())


def test_prices_at_a_date_before_an_entry_leaves_it_out() -> None:
    code, out, _ = cli("prices", "--service", "cartesia", "--at", "2025-09-01", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = cli("prices", "--service", "cartesia")
    assert code == 0 and "sonic-3" in out


@pytest.mark.timeout(60)
def test_prices_at_80_columns_is_a_row_per_model_with_its_rates_per_mtok() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    args = ["prices", "--service", "anthropic", "--service", "google", "--service", "deepgram", "--at", "2026-11-01"]
    done = subprocess.run([COSTLEDGER, *args], capture_output=True, text=True, check=True, env=env)
    lines = done.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.strip()}
    # Every model's name whole on its line, the longest Gemini ones too (ids are copied from here).
    listed = json.loads(subprocess.run([COSTLEDGER, *args, "--json"], capture_output=True, text=True,
                                       check=True).stdout)  # fmt: skip
    names = [r["model"] for r in listed if r["llm"] and not r["service_tier"]]
    assert max(map(len, names)) > 35 and all(name in rows or f"{name}+" in rows for name in names)
    # Anthropic's published rates per MTok: Haiku 4.5 input $1, output $5, cache read $0.10, 5-minute write $1.25.
    assert rows["claude-haiku-4-5"] == ["1", "5", "0.1", "1.25", "genai"]
    # Sonnet 4 has a long-context tier (+): $3 / $15 / $0.30 / $3.75 below 200K input tokens.
    assert rows["claude-sonnet-4-0+"] == ["3", "15", "0.3", "3.75", "ours"]
    assert rows["deepgram:nova-3"] == ["$0.0043/min", "unconfirmed"]  # Nova-3 pre-recorded
    assert "anthropic" in rows and not rows["anthropic"]  # the provider's line above its models


# -- record and report -------------------------------------------------------------------------------

EVENTS = [
    {"event_id": "c1", "ts": "2026-11-02T10:00:00Z", "service": "anthropic", "model": "claude-sonnet-4-20250514",
     "usage": {"input_tokens": 8000, "output_tokens": 350}, "agent": "scholar", "user_id": "u1", "tier": "creator"},
    {"event_id": "c2", "ts": "2026-11-02T10:01:00Z", "service": "deepgram", "model": "nova-3",
     "usage": {"audio_seconds": 300}, "user_id": "u1", "tier": "creator"},
    {"event_id": "c3", "ts": "2026-11-03T09:00:00Z", "service": "openai", "model": "gpt-9-ultra",
     "usage": {"input_tokens": 10}, "user_id": "u2", "tier": "free"},
]  # fmt: skip
JSONL = "\n".join(json.dumps(e) for e in EVENTS) + "\n"


def test_record_from_a_file_prints_the_counts_and_is_idempotent(tmp_path: Path) -> None:
    db, file = str(tmp_path / "l.db"), tmp_path / "events.jsonl"
    file.write_text(JSONL, encoding="utf-8")
    code, out, _ = cli("record", str(file), "--db", db)
    assert code == 0
    assert json.loads(out) == {"accepted": 3, "duplicates": 0, "unpriced": 1, "cost_usd": "0.05075"}
    code, out, _ = cli("record", str(file), "--db", db)
    assert json.loads(out) == {"accepted": 0, "duplicates": 3, "unpriced": 0, "cost_usd": "0"}


def test_record_from_stdin_a_json_list_and_one_event(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    code, out, _ = cli("record", "--db", db, stdin=json.dumps(EVENTS[:2]))
    assert code == 0 and json.loads(out)["accepted"] == 2
    code, out, _ = cli("record", "-", "--db", db, stdin=JSONL)
    assert (json.loads(out)["accepted"], json.loads(out)["duplicates"]) == (1, 2)
    code, out, _ = cli("record", "--db", db, "--json", json.dumps({**EVENTS[0], "event_id": "c9"}))
    assert json.loads(out)["accepted"] == 1


def test_record_refuses_a_bad_file_whole_naming_the_line(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    bad = [*EVENTS[:2], {**EVENTS[2], "usage": {"input_tokens": -1}}]
    code, out, err = cli("record", "--db", str(db), stdin="\n".join(json.dumps(e) for e in bad))
    assert code != 0 and out == ""
    assert "line 3: usage: usage.input_tokens must not be negative" in err
    code, out, _ = cli("report", "--db", str(db), "--json")
    assert json.loads(out) == []  # nothing of the file was stored
    code, _, err = cli("record", "--db", str(db), stdin='{"service": "openai"}\n{not json\n')
    assert code == 2 and "line 2: not valid JSON" in err


def test_report_json_and_csv(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    cli("record", "--db", db, stdin=JSONL)
    code, out, _ = cli("report", "--by", "service", "--db", db, "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0] == {"service": "anthropic", "events": 1, "unpriced": 0, "cost_usd": "0.02925"}
    assert {r["service"]: r["unpriced"] for r in rows} == {"anthropic": 0, "deepgram": 0, "openai": 1}
    code, out, _ = cli("report", "--by", "user,tier", "--db", db, "--csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[0] == {"user": "u1", "tier": "creator", "events": "2", "unpriced": "0", "cost_usd": "0.05075"}
    code, out, _ = cli("report", "--by", "day", "--since", "2026-11-03", "--db", db, "--json")
    assert json.loads(out) == [{"day": "2026-11-03", "events": 1, "unpriced": 1, "cost_usd": "0"}]
    code, out, _ = cli("report", "--by", "agent", "--service", "anthropic", "--db", db)
    assert code == 0 and "scholar" in out


def test_report_refuses_an_unknown_grouping(tmp_path: Path) -> None:
    code, _, err = cli("report", "--by", "colour", "--db", str(tmp_path / "l.db"))
    assert code == 2 and "cannot group by 'colour'" in err
