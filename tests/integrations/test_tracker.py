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
    row = asyncio.run(tracker.log_usage("research: pricing", "claude-sonnet-4-20250514", 8008, 1318, web_searches=3,
                                        metadata={"search_enabled": True}))  # fmt: skip
    cost = costledger.price("anthropic", "claude-sonnet-4-20250514", input_tokens=8008, output_tokens=1318,
                            web_searches=3)  # fmt: skip
    assert row["total_cost"] == cost.total == row["input_cost"] + row["output_cost"] + row["feature_cost"]
    assert row["feature_cost"] == Decimal("0.03")
    assert (row["agent"], row["endpoint"], row["web_searches"]) == ("SCHOLAR", "research: pricing", 3)
    (stored,) = ledger.session_events("room-1")
    assert stored["agent"] == "SCHOLAR" and stored["endpoint"] == "research: pricing"
    assert stored["cost_usd"] == cost.total


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
    row = asyncio.run(log_llm_usage("SCHOLAR", "research", "claude-sonnet", message, ledger=ledger))
    assert row["input_tokens"] == 8000 and row["web_searches"] == 2
    assert (
        row["total_cost"]
        == costledger.price(
            "anthropic",
            "claude-sonnet-4-20250514",
            input_tokens=8000,
            cache_read_tokens=7500,
            output_tokens=300,
            web_searches=2,
        ).total
    )
    ledger.record_anthropic(message)  # an instrumented client saw the same call
    assert ledger.total_usd() == row["total_cost"]


def test_log_llm_usage_with_an_openai_completion(ledger: Ledger) -> None:
    types = sdk("openai").types
    completion = types.chat.ChatCompletion.model_validate({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [], "usage": {"prompt_tokens": 6537, "completion_tokens": 2225, "total_tokens": 8762,
                                 "prompt_tokens_details": {"cached_tokens": 2048}},
    })  # fmt: skip
    row = asyncio.run(log_llm_usage("ARIA", "plan my launch week", "gpt-4o", completion, ledger=ledger))
    assert (
        row["total_cost"]
        == costledger.price("openai", "gpt-4o", input_tokens=6537, cache_read_tokens=2048, output_tokens=2225).total
    )


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
