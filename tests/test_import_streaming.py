"""`costledger import` in two streaming passes over files bigger than one batch: a bad line
anywhere refuses the file, a clean file records each event once, a failure half-way leaves
whole batches that a re-run completes. Built from the real samples in ../shared/samples."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import SHARED
from costledger import Ledger
from costledger.cli import app
from costledger.importers import BadLine, FileChanged, RecordingStopped, import_path
from costledger.importers.common import BATCH
from costledger.store.check import check_store
from costledger.store.schema import events, sessions

SAMPLES = SHARED / "samples"
SUTRA = SAMPLES / "sutra-costs-2026-11-19.jsonl"
USAGE_LOGS = SAMPLES / "agent_usage_logs.csv"
COPIES = 25  # 25 x the sample's 135 events: 3,375 events, more than 3 batches


def _records() -> list[dict[str, Any]]:
    """The sample's sessions COPIES times over, each copy its own sessions (so its own event ids)."""
    out = []
    for copy in range(COPIES):
        for line in SUTRA.read_text().splitlines():
            record = json.loads(line)
            out.append({**record, "session_id": f"{record['session_id']}-{copy}"})
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _stored(ledger: Ledger) -> tuple[int, int, int]:
    """(event rows, distinct event ids, session rows) as the database holds them."""
    with ledger.store.engine.connect() as c:
        rows = c.execute(select(func.count()).select_from(events)).scalar_one()
        ids = c.execute(select(func.count(events.c.event_id.distinct()))).scalar_one()
        opened = c.execute(select(func.count()).select_from(sessions)).scalar_one()
    return rows, ids, opened


def _recount(ledger: Ledger) -> tuple[int, int, Decimal]:
    """(events, unpriced, cost) summed from the event rows themselves, not from the rollups."""
    with ledger.store.engine.connect() as c:
        unpriced = func.count().filter(events.c.cost.is_(None))
        got = c.execute(select(func.count(), unpriced, func.coalesce(func.sum(events.c.cost), 0))).one()
    return got[0], got[1], Decimal(got[2]) / 10**9


def test_the_records_span_several_batches() -> None:
    assert sum(len(r["usages"]) for r in _records()) > 3 * BATCH


def test_a_bad_line_near_the_end_of_a_multi_batch_file_records_nothing(tmp_path: Path) -> None:
    records = _records()
    near_end = len(records) - 2  # 0-based: line len-1 of the file
    records[near_end]["usages"][1]["output_tokens"] = "lots"
    source = _write(tmp_path / "costs-2026-11-19.jsonl", records)
    with Ledger(tmp_path / "refused.db") as ledger:
        with pytest.raises(BadLine) as refused:
            import_path(ledger, source, "sutra-jsonl")
        assert refused.value.line == near_end + 1
        assert "output_tokens" in refused.value.message
        assert _stored(ledger) == (0, 0, 0)  # not one batch, not one session of the lines before it
        assert ledger.report([]) == []

    result = CliRunner().invoke(app, ["import", str(source), "--format", "sutra-jsonl", "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 1
    assert f"{source}:{near_end + 1}:" in result.output and "output_tokens" in result.output
    assert "nothing of this file was imported" in result.output
    with Ledger(tmp_path / "c.db") as ledger:
        assert _stored(ledger) == (0, 0, 0)


# A service of our own, priced per request in the config: 3 requests cost more than one event may ($10^9).
GPU_PRICE = """
[[prices]]
service = "gpu-farm"
model = "h100-month"
since = 2000-01-01
rates = { requests = { usd = "400000000", per = 1 } }
"""


def test_an_event_too_dear_to_store_refuses_the_file_before_anything_is_stored(tmp_path: Path) -> None:
    # record_many refuses an event priced over MAX_EVENT_USD: the first pass prices every event to see it.
    rows = [{"event_id": f"e{i}", "ts": "2026-11-19T10:00:00Z", "service": "gpu-farm", "model": "h100-month",
             "usage": {"requests": 2}} for i in range(2 * BATCH + 10)]  # fmt: skip
    rows[-3]["usage"] = {"requests": 3}
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "costledger.toml"
    config.write_text(GPU_PRICE)
    with Ledger(tmp_path / "dear.db", config=config) as ledger:
        with pytest.raises(BadLine) as refused:
            import_path(ledger, source, "jsonl")
        assert refused.value.line == len(rows) - 2
        assert "prices to $1200000000" in refused.value.message and "more than" in refused.value.message
        assert _stored(ledger) == (0, 0, 0)
        rows[-3]["usage"] = {"requests": 2}
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert import_path(ledger, source, "jsonl").cost_usd == Decimal(800_000_000) * len(rows)


def test_a_clean_multi_batch_file_records_every_event_once_and_reimports_nothing(
    store_url: str, tmp_path: Path
) -> None:
    records = _records()
    usages = [u for r in records for u in r["usages"]]
    source = _write(tmp_path / "costs-2026-11-19.jsonl", records)
    calls: list[tuple[str, int, int]] = []
    with Ledger(store_url) as ledger:
        first = import_path(ledger, source, "sutra-jsonl", progress=lambda *call: calls.append(call))
        assert (first.lines, first.accepted, first.duplicates) == (len(records), len(usages), 0)
        assert _stored(ledger) == (len(usages), len(usages), len(records))
        recount = _recount(ledger)
        assert recount[0] == len(usages)
        assert (first.unpriced, first.cost_usd) == recount[1:]
        # The old tracker's costs, kept per event, add up to the file's floats read as their text.
        with ledger.store.engine.connect() as c:
            recorded = c.execute(select(func.sum(events.c.recorded_cost))).scalar_one()
        assert Decimal(recorded) == sum(Decimal(str(u["estimated_cost_usd"])) * 10**9 for u in usages)
        by_service = {t.group["service"]: t.events for t in ledger.report(["service"])}
        assert by_service == dict(Counter(u["service"] for u in usages))
        for record in records[:: len(records) // 10]:  # sessions of the first, middle and last batches
            summary = ledger.session_summary(record["session_id"])
            assert summary is not None and summary.events == len(record["usages"])
            assert summary.started_at.isoformat() == record["started_at"]
        assert check_store(ledger.store) == []

        again = import_path(ledger, source, "sutra-jsonl")
        assert (again.accepted, again.duplicates, again.cost_usd) == (0, len(usages), 0)
        assert _stored(ledger) == (len(usages), len(usages), len(records))
        assert _recount(ledger) == recount
        assert check_store(ledger.store) == []
    recording = [c for c in calls if c[0] == "recording"]
    assert [c[1] for c in recording] == [*range(BATCH, len(usages), BATCH), len(usages)]
    assert {c[2] for c in recording} == {len(usages)}
    assert [c[0] for c in calls].index("recording") == len(records)  # every line read before any is recorded


def test_a_database_failure_half_way_keeps_whole_batches_and_a_rerun_completes(tmp_path: Path) -> None:
    records = _records()
    usages = [u for r in records for u in r["usages"]]
    source = _write(tmp_path / "costs-2026-11-19.jsonl", records)
    # The line whose events start past the first 1.5 batches: its insert fails, as a full disk would.
    seen, line = 0, 0
    while seen < BATCH * 3 // 2:
        seen += len(records[line]["usages"])
        line += 1
    db = tmp_path / "half.db"
    Ledger(db).close()
    with sqlite3.connect(db) as c:
        c.execute(f"""CREATE TRIGGER full_disk BEFORE INSERT ON events
                      WHEN NEW.session_id = '{records[line]["session_id"]}'
                      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END""")
    with Ledger(db) as ledger:
        with pytest.raises(RecordingStopped) as stopped:
            import_path(ledger, source, "sutra-jsonl")
        assert (stopped.value.done, stopped.value.total) == (BATCH, len(usages))
        assert "disk is full" in str(stopped.value) and "import the file again" in str(stopped.value)
        assert _stored(ledger)[:2] == (BATCH, BATCH)  # the first batch, whole; nothing of the second
        assert check_store(ledger.store) == []  # rollups and sessions agree with what is stored
    cli = CliRunner().invoke(app, ["import", str(source), "--format", "sutra-jsonl", "--db", str(db), "--json"])
    assert cli.exit_code == 1
    assert f"recording stopped after {BATCH:,} of {len(usages):,} events" in cli.output  # the same first batch
    assert "import the file again" in cli.output
    with sqlite3.connect(db) as c:
        c.execute("DROP TRIGGER full_disk")
    with Ledger(db) as ledger:
        rerun = import_path(ledger, source, "sutra-jsonl")
        assert (rerun.accepted, rerun.duplicates) == (len(usages) - BATCH, BATCH)
        assert _stored(ledger) == (len(usages), len(usages), len(records))
        assert check_store(ledger.store) == []


def test_a_file_rewritten_between_the_passes_stops_at_the_changed_line(tmp_path: Path) -> None:
    records = _records()
    source = _write(tmp_path / "costs-2026-11-19.jsonl", records)
    text = source.read_text()
    changed = len(records) - 3  # 0-based; the recording pass has not read that far after one batch
    lines = text.splitlines(keepends=True)
    assert '"input_tokens": 8000' in lines[changed]
    lines[changed] = lines[changed].replace('"input_tokens": 8000', '"input_tokens": -800', 1)  # same length

    def rewrite(phase: str, done: int, total: int) -> None:
        if phase == "recording" and done == BATCH:
            source.write_text("".join(lines))

    with Ledger(tmp_path / "changed.db") as ledger:
        with pytest.raises(FileChanged) as stopped:
            import_path(ledger, source, "sutra-jsonl", progress=rewrite)
        assert stopped.value.line == changed + 1 and "input_tokens" in str(stopped.value)
        assert "changed during the import" in str(stopped.value)
        stored = _stored(ledger)[0]
        before = sum(len(r["usages"]) for r in records[:changed])
        assert 0 < stored <= before and stored % BATCH == 0  # whole batches before the changed line
        assert check_store(ledger.store) == []


def test_lines_appended_during_the_import_wait_for_the_next_one(tmp_path: Path) -> None:
    records = _records()
    usages = sum(len(r["usages"]) for r in records)
    source = _write(tmp_path / "costs-2026-11-19.jsonl", records)
    extra = {**records[0], "session_id": "appended-later"}

    def append(phase: str, done: int, total: int) -> None:
        if phase == "recording" and done == BATCH:
            with source.open("a") as handle:
                handle.write(json.dumps(extra) + "\n")

    with Ledger(tmp_path / "growing.db") as ledger:
        first = import_path(ledger, source, "sutra-jsonl", progress=append)
        assert (first.lines, first.accepted) == (len(records), usages)  # what was validated, no more
        second = import_path(ledger, source, "sutra-jsonl")
        assert (second.accepted, second.duplicates) == (len(extra["usages"]), usages)
        assert check_store(ledger.store) == []


def _usage_log_rows(copies: int) -> tuple[list[str], list[dict[str, str]]]:
    """The CSV sample's rows `copies` times, each copy with its own ids."""
    with USAGE_LOGS.open(newline="") as handle:
        reader = csv.DictReader(handle)
        sample, header = list(reader), list(reader.fieldnames or [])
    rows = [{**row, "id": str(uuid.UUID(int=copy * 1000 + i))} for copy in range(copies)
            for i, row in enumerate(sample)]  # fmt: skip
    return header, rows


def _csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, header)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def test_agent_usage_logs_stream_too(tmp_path: Path) -> None:
    header, rows = _usage_log_rows(copies=80)  # 2,400 rows
    assert len(rows) > 2 * BATCH
    bad_rows = [dict(r) for r in rows]
    bad_rows[-2]["input_tokens"] = "many"
    bad = _csv(tmp_path / "bad.csv", header, bad_rows)
    good = _csv(tmp_path / "good.csv", header, rows)
    with Ledger(tmp_path / "logs.db") as ledger:
        with pytest.raises(BadLine) as refused:
            import_path(ledger, bad, "agent-usage-logs")
        assert refused.value.line == len(rows)  # the header is line 1: the second-last row is line len(rows)
        assert "input_tokens" in refused.value.message
        assert _stored(ledger) == (0, 0, 0)

        first = import_path(ledger, good, "agent-usage-logs")
        assert (first.accepted, first.duplicates) == (len(rows), 0)
        assert _recount(ledger)[:2] == (len(rows), first.unpriced)
        tokens = sum(int(r["input_tokens"]) for r in rows)
        assert sum(t.events for t in ledger.report(["model"])) == len(rows)
        with ledger.store.engine.connect() as c:
            stored_usage = c.execute(select(events.c.usage)).scalars().all()
        cache = 0
        for r in rows:  # Anthropic reports input without its cache tokens: the importer adds them
            if r["model"].startswith("claude"):
                features = json.loads(r["other_features"] or "{}")
                cache += features.get("cache_read_input_tokens", 0) + features.get("cache_creation_input_tokens", 0)
        assert sum(json.loads(u)["input_tokens"] for u in stored_usage) == tokens + cache
        again = import_path(ledger, good, "agent-usage-logs")
        assert (again.accepted, again.duplicates) == (0, len(rows))
        assert check_store(ledger.store) == []


def test_agent_usage_logs_as_a_json_list_stream_item_by_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from costledger.importers import jsonlist

    monkeypatch.setattr(jsonlist, "CHUNK", 97)  # items and numbers cut at every chunk boundary
    header, rows = _usage_log_rows(copies=50)  # 1,500 rows
    listed = tmp_path / "logs.json"
    listed.write_text(json.dumps(rows, indent=1))
    broken = tmp_path / "broken.json"
    text = json.dumps(rows, indent=1)
    cut = text.rindex('"model"')  # the last row's model key loses its colon: not JSON from there
    broken.write_text(text[:cut] + text[cut:].replace('"model":', '"model"', 1))
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(broken.read_text())
    with Ledger(tmp_path / "listed.db") as ledger:
        with pytest.raises(BadLine) as refused:
            import_path(ledger, broken, "agent-usage-logs")
        assert refused.value.line == expected.value.lineno and "not valid JSON" in refused.value.message
        assert _stored(ledger) == (0, 0, 0)

        first = import_path(ledger, listed, "agent-usage-logs")
        assert (first.lines, first.accepted, first.duplicates) == (len(rows), len(rows), 0)
        # The same rows as CSV are the same events (the table's ids): all duplicates.
        again = import_path(ledger, _csv(tmp_path / "logs.csv", header, rows), "agent-usage-logs")
        assert (again.accepted, again.duplicates) == (0, len(rows))
        assert check_store(ledger.store) == []


def test_skip_bad_on_a_one_line_json_list_records_the_rows_before_it_stops_being_json(tmp_path: Path) -> None:
    _, rows = _usage_log_rows(copies=40)  # 1,200 rows on one line: positions 1…, the syntax error on line 1
    text = json.dumps(rows)
    cut = text.rindex('"model"')
    broken = tmp_path / "broken.json"
    broken.write_text(text[:cut] + text[cut:].replace('"model":', '"model"', 1))
    with Ledger(tmp_path / "skip.db") as ledger:
        result = import_path(ledger, broken, "agent-usage-logs", skip_bad=True)
        assert (result.accepted, result.lines) == (len(rows) - 1, len(rows))
        assert [s.split(":")[1] for s in result.skipped] == ["1"]
        assert _stored(ledger)[:2] == (len(rows) - 1, len(rows) - 1)
