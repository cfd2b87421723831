"""The drop-in tracker: the old tracker's calls, recorded and priced by costledger."""

from __future__ import annotations

import asyncio
import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import costledger
from conftest import SHARED
from costledger import Ledger
from costledger.integrations.tracker import CostTracker, log_llm_usage, service_of

from .conftest import sdk


def test_log_usage_records_and_returns_the_old_row_with_exact_costs(ledger: Ledger) -> None:
    tracker = CostTracker("SCHOLAR", ledger=ledger, session_id="room-1")
    row = asyncio.run(tracker.log_usage("research: pricing", "claude-sonnet-4-20250514", 8008, 1318, 3, None,
                                        {"search_enabled": True}))  # fmt: skip
    # Sonnet 4 at $3 / $15 per million: 8,008 × $3/M = 0.024024; 1,318 × $15/M = 0.01977; 3 searches × $0.01
    costs = [row[name].exact for name in ("input_cost", "output_cost", "feature_cost", "total_cost")]
    assert costs == [Decimal("0.024024"), Decimal("0.01977"), Decimal("0.03"), Decimal("0.073794")]
    assert (row["agent"], row["endpoint"], row["web_searches"]) == ("SCHOLAR", "research: pricing", 3)
    assert row["metadata"] == {"search_enabled": True} and row["other_features"] == {}
    (stored,) = ledger.session_events("room-1")
    assert stored["agent"] == "SCHOLAR" and stored["endpoint"] == "research: pricing"
    assert stored["cost_usd"] == Decimal("0.073794")
    # The old row went to json.dumps (an event bus, a REST insert): so does this one, its costs exact.
    sent = json.loads(json.dumps(row))
    assert sent["total_cost"] == 0.073794 and sent["timestamp"] == row["timestamp"]
    assert str(row["total_cost"]) == "0.073794"


def test_the_old_static_helpers_read_cache_and_billed_searches(ledger: Ledger) -> None:
    types = sdk("anthropic").types
    message = types.Message.model_validate({
        "id": "msg_y", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12000, "cache_read_input_tokens": 5000, "output_tokens": 300,
                  "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0}},
    })  # fmt: skip
    tracker = CostTracker("SCHOLAR", ledger=ledger)
    assert tracker.agent_name == "SCHOLAR"
    input_tokens, output_tokens = tracker.extract_usage_from_response(message)
    assert (input_tokens, output_tokens) == (17000, 300)  # the cache counted in the prompt
    searches = CostTracker.count_web_searches(message)  # billed requests, not the one server_tool_use block
    assert searches == 2
    # The old code's pattern: its cache parts still priced as cache reads.
    row = asyncio.run(tracker.log_usage("research", "claude-sonnet-4-20250514", input_tokens, output_tokens, searches))
    # 12,000 × $3/M = 0.036; 5,000 × $0.30/M = 0.0015; 300 × $15/M = 0.0045; 2 × $0.01 = 0.02
    assert row["total_cost"].exact == Decimal("0.062")


def test_a_model_that_does_not_exist_is_unpriced_not_priced_as_sonnet(ledger: Ledger) -> None:
    row = asyncio.run(CostTracker("SCHOLAR", ledger=ledger).log_usage("x", "claude-haiku-4-20250514", 6417, 1658))
    assert row["total_cost"] is None
    (total,) = ledger.report(by="model")
    assert total.unpriced == 1  # type: ignore[attr-defined]


def test_other_features_that_are_meters_are_priced_the_rest_kept(ledger: Ledger) -> None:
    row = asyncio.run(CostTracker("ARIA", ledger=ledger).log_usage(
        "e", "gpt-4o", 1000, 10, other_features={"web_searches": 1, "code_interpreter": "on"}))  # fmt: skip
    assert row["feature_cost"] == costledger.price("openai", "gpt-4o", web_searches=1).total
    assert row["other_features"] == {"web_searches": 1, "code_interpreter": "on"}


def test_service_is_inferred_from_the_model_name() -> None:
    assert [service_of(m) for m in ("claude-sonnet", "gpt-4o", "o3-mini", "gemini-2.5-pro", "llama-3")] == [
        "anthropic", "openai", "openai", "google", "unknown"]  # fmt: skip


def test_log_llm_usage_reads_cache_and_searches_from_the_response_and_dedups(ledger: Ledger) -> None:
    types = sdk("anthropic").types
    message = types.Message.model_validate({
        "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 500, "cache_read_input_tokens": 7500, "output_tokens": 300,
                  "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0}},
    })  # fmt: skip
    # metadata positionally, after web_searches, as the old log_llm_usage took it
    row = asyncio.run(log_llm_usage("SCHOLAR", "research", "claude-sonnet", message, 0, {"turn": 3}, ledger=ledger))
    assert row["input_tokens"] == 8000 and row["web_searches"] == 2
    assert row["metadata"] == {"turn": 3} and row["other_features"] == {}
    # 500 × $3/M = 0.0015; 7,500 × $0.30/M = 0.00225; 300 × $15/M = 0.0045; 2 × $0.01 = 0.02
    assert row["total_cost"].exact == Decimal("0.02825")
    ledger.record_anthropic(message)  # an instrumented client saw the same call
    assert ledger.total_usd() == Decimal("0.02825")


def test_log_llm_usage_with_an_openai_completion(ledger: Ledger) -> None:
    types = sdk("openai").types
    completion = types.chat.ChatCompletion.model_validate({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [], "usage": {"prompt_tokens": 6537, "completion_tokens": 2225, "total_tokens": 8762,
                                 "prompt_tokens_details": {"cached_tokens": 2048}},
    })  # fmt: skip
    row = asyncio.run(log_llm_usage("ARIA", "plan my launch week", "gpt-4o", completion, ledger=ledger))
    # gpt-4o: 4,489 uncached × $2.50/M = 0.0112225; 2,048 cached × $1.25/M = 0.00256; 2,225 × $10/M = 0.02225
    assert row["total_cost"].exact == Decimal("0.0360325")


def test_replaying_the_old_trackers_log_prices_every_real_model(tmp_path: Path) -> None:
    config = tmp_path / "costledger.toml"
    config.write_text('[aliases]\n"claude-sonnet" = "anthropic:claude-sonnet-4-20250514"\n')
    rows = list(csv.DictReader((SHARED / "samples" / "agent_usage_logs.csv").open()))
    with Ledger(tmp_path / "replay.db", config=config) as ledger:
        for old in rows:
            tracker = CostTracker(old["agent"], ledger=ledger)
            counts = int(old["input_tokens"]), int(old["output_tokens"]), int(old["web_searches"])
            extra = json.loads(old["other_features"]), json.loads(old["metadata"])
            new = asyncio.run(tracker.log_usage(old["endpoint"], old["model"], *counts, *extra))
            assert (new["total_cost"] is None) == (old["model"] == "claude-haiku-4-20250514")
        by_model = {t.group["model"]: t for t in ledger.report(by="model")}
    assert sum(t.events for t in by_model.values()) == len(rows)  # type: ignore[attr-defined]
    assert by_model["claude-haiku-4-20250514"].unpriced == 10  # type: ignore[attr-defined]
    assert by_model["claude-sonnet"].unpriced == 0  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
def test_a_server_url_records_through_the_client(served: Any, tmp_path: Path) -> None:
    url, key, db = served
    tracker = CostTracker("SCHOLAR", ledger=url, key=key, outbox=str(tmp_path / "outbox.db"), session_id="remote-1")
    asyncio.run(tracker.log_usage("research", "gpt-4o", 1000, 100))
    assert tracker.target.flush(timeout=20)  # type: ignore[attr-defined]
    tracker.target.close()  # type: ignore[attr-defined]
    with Ledger(db) as ledger:
        summary = ledger.session_summary("remote-1")
        assert summary is not None and summary.events == 1
        assert summary.cost_usd == costledger.price("openai", "gpt-4o", input_tokens=1000, output_tokens=100).total
