"""Importing the logs of the trackers costledger replaces (the real samples in ../shared/samples)."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import SHARED
from costledger import Ledger
from costledger.cli import app
from costledger.importers import BadLine, import_path
from costledger.store.check import check_store
from costledger.store.compare import compare_recorded
from costledger.store.schema import events

SAMPLES = SHARED / "samples"
SUTRA = SAMPLES / "sutra-costs-2026-11-19.jsonl"
USAGE_LOGS = SAMPLES / "agent_usage_logs.csv"


@pytest.fixture(autouse=True)
def _samples() -> None:
    if not SUTRA.is_file() or not USAGE_LOGS.is_file():
        pytest.fail(f"the sample logs are missing from {SAMPLES}")


def _sutra_usages() -> list[dict[str, Any]]:
    return [u for line in SUTRA.read_text().splitlines() for u in json.loads(line)["usages"]]


def _comparison(ledger: Ledger) -> dict[tuple[str, str | None], dict[str, Any]]:
    with ledger.store.engine.connect() as c:
        return {(r.service, r.model): r.as_dict() for r in compare_recorded(c)}


def test_sutra_sample_imports_priced_with_recorded_costs_and_reimport_adds_nothing(tmp_path: Path) -> None:
    usages = _sutra_usages()
    with Ledger(tmp_path / "s.db") as ledger:
        first = import_path(ledger, SUTRA, "sutra-jsonl")
        assert (first.lines, first.accepted, first.duplicates) == (12, len(usages), 0)
        fake_haiku = sum(1 for u in usages if u["metadata"].get("model") == "claude-haiku-4-20250514")
        assert first.unpriced == fake_haiku > 0  # a model that does not exist is not guessed
        again = import_path(ledger, SUTRA, "sutra-jsonl")
        assert (again.accepted, again.duplicates) == (0, len(usages))

        with ledger.store.engine.connect() as c:
            recorded = c.execute(select(events.c.recorded_cost)).scalars().all()
            livekit = c.execute(select(events.c.usage, events.c.meta).where(events.c.service == "livekit")).first()
        # Recorded float costs become exact decimals through their text.
        assert sum(recorded) == sum(int(Decimal(str(u["estimated_cost_usd"])) * 10**9) for u in usages)
        assert livekit is not None
        room = json.loads(livekit.meta)
        assert Decimal(json.loads(livekit.usage)["participant_minutes"]) == Decimal(room["room_seconds"]) * 2 / 60
        assert room["participants_assumed"] == "2"

        first_record = json.loads(SUTRA.read_text().splitlines()[0])
        summary = ledger.session_summary(first_record["session_id"])
        assert summary is not None
        assert summary.started_at.isoformat() == first_record["started_at"]  # the session began before its first event
        assert summary.events == len(first_record["usages"])
        assert (summary.user_id, summary.tier, summary.mode) == ("user-1", "explorer", "combined")

        compared = _comparison(ledger)
        # The tracker's livekit cost assumed 2 participants at $0.02 a minute; costledger prices LiveKit's
        # billing units: the room's participant-minutes as WebRTC minutes, rounded up, at $0.0005.
        lk = compared[("livekit", None)]
        assert Decimal(lk["computed_usd"]) == _room_cost(participants=2) > 0
        assert compared[("anthropic", "claude-haiku-4-20250514")]["unpriced"] == fake_haiku
        assert check_store(ledger.store) == []


def test_participants_per_room_changes_livekit_cost(tmp_path: Path) -> None:
    with Ledger(tmp_path / "two.db") as two, Ledger(tmp_path / "three.db") as three:
        import_path(two, SUTRA, "sutra-jsonl")
        import_path(three, SUTRA, "sutra-jsonl", participants=3)
        cost2 = two.total_usd(service="livekit")
        cost3 = three.total_usd(service="livekit")
    assert cost2 == _room_cost(participants=2) and cost3 == _room_cost(participants=3) > cost2


def _room_cost(participants: int) -> Decimal:
    """The sample's rooms by hand: seconds × participants / 60 minutes, rounded up per room, at $0.0005."""
    seconds = [Decimal(str(u["audio_seconds"])) for line in SUTRA.read_text().splitlines()
               for u in json.loads(line)["usages"] if u["service"] == "livekit"]  # fmt: skip
    return sum(((s * participants / 60).to_integral_value(ROUND_CEILING) * Decimal("0.0005") for s in seconds),
               start=Decimal(0))  # fmt: skip


def test_agent_usage_logs_sample_flags_sonnet_priced_unknowns(tmp_path: Path) -> None:
    rows = list(csv.DictReader(USAGE_LOGS.open()))
    with Ledger(tmp_path / "a.db") as ledger:
        result = import_path(ledger, USAGE_LOGS, "agent-usage-logs")
        assert (result.accepted, result.duplicates) == (len(rows), 0)
        unknown = [r for r in rows if r["model"] in ("claude-sonnet", "claude-haiku-4-20250514")]
        assert result.unpriced == len(unknown) > 0
        assert import_path(ledger, USAGE_LOGS, "agent-usage-logs").accepted == 0

        compared = _comparison(ledger)
        alias = [r for r in rows if r["model"] == "claude-sonnet"]
        row = compared[("anthropic", "claude-sonnet")]
        assert row["unpriced"] == len(alias) and row["computed_usd"] == "0"
        assert Decimal(row["recorded_unpriced_usd"]) == sum(Decimal(r["total_cost"]) for r in alias)
        gpt = compared[("openai", "gpt-4o")]
        assert gpt["unpriced"] == 0 and Decimal(gpt["computed_usd"]) > 0
        with ledger.store.engine.connect() as c:
            stored = c.execute(select(events.c.event_id, events.c.agent, events.c.endpoint, events.c.meta)).all()
        assert {e.event_id for e in stored} == {f"agent_usage_logs:{r['id']}" for r in rows}
        assert any(json.loads(e.meta) == {"search_enabled": True} for e in stored)
        assert {e.agent for e in stored} == {r["agent"] for r in rows}


def test_configured_alias_prices_claude_sonnet(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text('[aliases]\n"claude-sonnet" = "anthropic:claude-sonnet-4-20250514"\n')
    with Ledger(tmp_path / "alias.db", config=config) as ledger:
        import_path(ledger, USAGE_LOGS, "agent-usage-logs")
        row = _comparison(ledger)[("anthropic", "claude-sonnet")]
    assert row["unpriced"] == 0 and Decimal(row["computed_usd"]) > 0
    # The tracker priced the alias as Sonnet too: the same figures.
    assert row["difference_usd"] == "0"


def test_compare_recorded_shows_the_cache_tokens_the_tracker_ignored(tmp_path: Path) -> None:
    source = tmp_path / "cached.csv"
    header = USAGE_LOGS.read_text().splitlines()[0]
    # 1,000 fresh input tokens + 100,000 read from the cache, priced by the tracker as 1,000 input only.
    source.write_text(
        header + "\n"
        "11111111-0000-0000-0000-000000000001,SCHOLAR,status,claude-sonnet-4-20250514,1000,100,0,"
        '"{""cache_read_input_tokens"": 100000, ""beta"": ""x""}",0.003,0.0015,0,0.0045,{},'
        "2026-11-19 10:00:00+00,2026-11-19 10:00:00+00\n"
    )
    with Ledger(tmp_path / "c.db") as ledger:
        import_path(ledger, source, "agent-usage-logs")
        row = _comparison(ledger)[("anthropic", "claude-sonnet-4-20250514")]
        with ledger.store.engine.connect() as c:
            usage, meta = c.execute(select(events.c.usage, events.c.meta)).one()
    assert json.loads(usage) == {"input_tokens": 101000, "output_tokens": 100, "cache_read_tokens": 100000}
    assert json.loads(meta) == {"other_features": {"beta": "x"}}
    # The cache reads cost $0.30/M: 100,000 × 0.30 / 1M = $0.03 the tracker never counted.
    assert row["recorded_usd"] == "0.0045" and row["difference_usd"] == "0.03"


def test_a_bad_line_refuses_the_whole_file_with_its_line_number(tmp_path: Path) -> None:
    lines = SUTRA.read_text().splitlines()
    broken = json.loads(lines[6])
    broken["usages"][0]["input_tokens"] = -5
    lines[6] = json.dumps(broken)
    lines[9] = lines[9][:40]
    bad = tmp_path / "costs-2026-11-19.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with Ledger(tmp_path / "bad.db") as ledger:
        with pytest.raises(BadLine) as refused:
            import_path(ledger, bad, "sutra-jsonl")
        assert refused.value.line == 7 and "input_tokens" in str(refused.value)
        assert ledger.report([]) == []  # nothing of the file was stored

        skipping = import_path(ledger, bad, "sutra-jsonl", skip_bad=True)
        assert [s.split(":")[1] for s in skipping.skipped] == ["7", "10"]
        expected = sum(len(json.loads(line)["usages"]) for i, line in enumerate(lines) if i not in (6, 9))
        assert skipping.accepted == expected


def test_a_directory_imports_every_daily_file(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(SUTRA, folder / "costs-2026-11-19.jsonl")
    second = [json.loads(line) for line in SUTRA.read_text().splitlines()[:2]]
    for record in second:
        record["session_id"] += "-next-day"
    (folder / "costs-2026-11-20.jsonl").write_text("".join(json.dumps(r) + "\n" for r in second))
    (folder / "notes.jsonl").write_text("not a cost log\n")
    with Ledger(tmp_path / "dir.db") as ledger:
        result = import_path(ledger, folder, "sutra-jsonl")
    assert [Path(f).name for f in result.files] == ["costs-2026-11-19.jsonl", "costs-2026-11-20.jsonl"]
    assert result.accepted == len(_sutra_usages()) + sum(len(r["usages"]) for r in second)


def test_jsonl_events_without_ids_get_stable_ones(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(
        '{"ts": "2026-11-19T10:00:00Z", "service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 60},'
        ' "recorded_cost_usd": "0.005"}\n\n'
        '{"event_id": "mine", "ts": "2026-11-19T10:01:00Z", "service": "cartesia", "model": "sonic-3",'
        ' "usage": {"characters": 1000}}\n'
    )
    with Ledger(tmp_path / "j.db") as ledger:
        assert import_path(ledger, source, "jsonl").accepted == 2
        assert import_path(ledger, source, "jsonl").duplicates == 2
        row = _comparison(ledger)[("deepgram", "nova-3")]
    assert (row["recorded_usd"], row["computed_usd"], row["difference_usd"]) == ("0.005", "0.0043", "-0.0007")


def test_cli_import_and_report_compare_recorded(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    first = runner.invoke(app, ["import", str(SAMPLES), "--format", "sutra-jsonl", "--db", db])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["accepted"] == len(_sutra_usages())
    logs = runner.invoke(app, ["import", str(USAGE_LOGS), "--format", "agent-usage-logs", "--db", db])
    assert logs.exit_code == 0, logs.output
    again = runner.invoke(app, ["import", str(USAGE_LOGS), "--format", "agent-usage-logs", "--db", db])
    assert json.loads(again.stdout)["accepted"] == 0

    report = runner.invoke(app, ["report", "--compare-recorded", "--json", "--db", db])
    assert report.exit_code == 0, report.output
    rows = {(r["service"], r["model"]): r for r in json.loads(report.stdout)}
    assert rows[("anthropic", "claude-sonnet")]["unpriced"] == 5
    assert Decimal(rows[("anthropic", "claude-sonnet")]["recorded_unpriced_usd"]) > 0
    table = runner.invoke(app, ["report", "--compare-recorded", "--db", db])
    assert "recorded_unpriced_usd" in table.output

    bad = tmp_path / "bad.csv"
    bad.write_text(USAGE_LOGS.read_text().replace(",8008,", ",lots,", 1))
    refused = runner.invoke(app, ["import", str(bad), "--format", "agent-usage-logs", "--db", db])
    assert refused.exit_code == 1
    assert f"{bad}:2:" in refused.output and "input_tokens" in refused.output
    unknown = runner.invoke(app, ["import", str(bad), "--format", "nope", "--db", db])
    assert unknown.exit_code == 2


def test_progress_reports_lines_read_then_events_recorded(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    with Ledger(tmp_path / "p.db") as ledger:
        import_path(ledger, USAGE_LOGS, "agent-usage-logs", progress=lambda *call: calls.append(call))
    reading = [c for c in calls if c[0] == "reading"]
    assert reading[-1] == ("reading", 31, 31)  # CSV line numbers: the header is line 1
    assert [c[1] for c in reading] == sorted(c[1] for c in reading)
    assert calls[-1] == ("recording", 30, 30)


def test_sutra_readings_a_service_does_not_bill_go_to_the_metadata(tmp_path: Path) -> None:
    record = json.loads(SUTRA.read_text().splitlines()[0])
    tts = next(u for u in record["usages"] if u["service"] == "cartesia")
    record["usages"] = [{**tts, "audio_seconds": 12.5}]
    source = tmp_path / "costs-2026-11-19.jsonl"
    source.write_text(json.dumps(record) + "\n")
    with Ledger(tmp_path / "tts.db") as ledger:
        result = import_path(ledger, source, "sutra-jsonl")
        with ledger.store.engine.connect() as c:
            usage, meta = c.execute(select(events.c.usage, events.c.meta)).one()
    # 1 credit per character at $49 / 1,250,000 (Cartesia's Startup plan).
    assert result.unpriced == 0 and result.cost_usd == Decimal(tts["characters"]) * Decimal("0.0000392")
    assert json.loads(usage) == {"characters": tts["characters"]}
    assert json.loads(meta)["audio_seconds"] == "12.5"
