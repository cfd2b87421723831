"""Anthropic: responses built from the SDK's own types, and the real client against a loopback server."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

import costledger
from costledger import Ledger
from costledger.integrations.anthropic import instrument, message_event

from .conftest import sdk

MODEL = "claude-sonnet-4-20250514"
CURRENT = "claude-haiku-4-5"  # the SDK warns on deprecated models


def _message(**usage: Any) -> Any:
    types = sdk("anthropic").types
    return types.Message.model_validate(
        {
            "id": "msg_01abc",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


def test_cache_tokens_are_added_to_input_and_searches_counted_per_request(ledger: Ledger) -> None:
    message = _message(
        input_tokens=2000,
        cache_creation_input_tokens=1000,
        cache_read_input_tokens=5000,
        output_tokens=300,
        server_tool_use={"web_search_requests": 3, "web_fetch_requests": 0},
    )
    with ledger.session("room-1", user_id="u1") as s:
        done = s.record_anthropic(message, agent="scholar")
    expected = costledger.price(
        "anthropic", MODEL, input_tokens=8000, cache_write_tokens=1000, cache_read_tokens=5000,
        output_tokens=300, web_searches=3,
    ).total  # fmt: skip
    assert done.accepted == 1 and done.unpriced == 0
    assert done.cost_usd == expected
    assert s.summary is not None and s.summary.by_agent == {"scholar": expected}  # type: ignore[attr-defined]


def test_same_message_recorded_twice_counts_once(ledger: Ledger) -> None:
    message = _message(input_tokens=10, output_tokens=5)
    assert ledger.record_anthropic(message).accepted == 1
    again = ledger.record_anthropic(message)
    assert again.accepted == 0 and again.duplicates == 1


def test_batch_result_is_priced_at_half_the_token_price_searches_in_full(ledger: Ledger) -> None:
    types = sdk("anthropic").types.messages
    message = _message(input_tokens=4000, output_tokens=1000, server_tool_use={"web_search_requests": 2,
                                                                                  "web_fetch_requests": 0})  # fmt: skip
    result = types.MessageBatchIndividualResponse.model_validate(
        {"custom_id": "req-7", "result": {"type": "succeeded", "message": message.model_dump()}}
    )
    at = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    done = ledger.record_anthropic(result, ts=at)
    tokens = costledger.price("anthropic", MODEL, input_tokens=4000, output_tokens=1000, at=at).total
    searches = Decimal("0.02")
    assert done.cost_usd == tokens / 2 + searches
    event = message_event(result, ts=at)
    assert event["metadata"]["batch"] is True and event["metadata"]["custom_id"] == "req-7"
    assert Decimal(event["metadata"]["list_cost_usd"]) == tokens + searches


def test_failed_batch_request_is_refused() -> None:
    types = sdk("anthropic").types.messages
    errored = types.MessageBatchIndividualResponse.model_validate({"custom_id": "r", "result": {"type": "expired"}})
    with pytest.raises(ValueError, match="did not succeed"):
        message_event(errored)


def test_unknown_model_in_a_batch_stays_unpriced(ledger: Ledger) -> None:
    message = _message(input_tokens=10, output_tokens=5).model_copy(update={"model": "claude-nonexistent-9"})
    done = ledger.record_anthropic(message, batch=True)
    assert done.unpriced == 1 and done.cost_usd == 0


@pytest.mark.timeout(30)
def test_instrumented_client_records_create_and_both_kinds_of_stream(ledger: Ledger, providers: Any) -> None:
    anthropic = sdk("anthropic")
    providers.anthropic_usage = {"input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 40,
                                 "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0}}  # fmt: skip
    client = instrument(anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0),
                        ledger.session("room-9"), agent="critic")  # fmt: skip
    args = {"model": CURRENT, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    client.messages.create(**args)
    for _ in client.messages.create(**args, stream=True):
        pass
    with client.messages.stream(**args) as stream:
        assert stream.get_final_text() == "Noted."
    one = costledger.price("anthropic", CURRENT, input_tokens=1000, cache_read_tokens=900, output_tokens=40,
                           web_searches=1).total  # fmt: skip
    summary = ledger.session_summary("room-9")
    assert summary is not None and summary.events == 3  # type: ignore[attr-defined]
    assert summary.cost_usd == 3 * one


@pytest.mark.timeout(30)
def test_instrumented_async_client_records_create_and_streams(ledger: Ledger, providers: Any) -> None:
    anthropic = sdk("anthropic")
    client = instrument(anthropic.AsyncAnthropic(base_url=providers.url, api_key="test", max_retries=0), ledger)
    args = {"model": CURRENT, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}

    async def run() -> None:
        await client.messages.create(**args)
        async for _ in await client.messages.create(**args, stream=True):
            pass
        async with client.messages.stream(**args) as stream:
            await stream.get_final_message()

    asyncio.run(run())
    one = costledger.price("anthropic", CURRENT, input_tokens=1200, output_tokens=80).total
    assert ledger.total_usd() == 3 * one
