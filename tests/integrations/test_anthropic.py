"""Anthropic: the SDK's own types, and the real client against a loopback server speaking its wire format.

Prices are Anthropic's published rates (per million tokens), computed by hand:
claude-haiku-4-5 input $1, output $5, cache read $0.10, 5-minute write $1.25, 1-hour write $2;
claude-sonnet-4-5 input $3, output $15, cache read $0.30, 5m write $3.75, 1h write $6 up to 200K
prompt tokens, above it input $6, output $22.50, read $0.60, 5m write $7.50, 1h write $12;
web search $10 per 1,000; the Batch API half of every token price.
"""

from __future__ import annotations

import asyncio
import gc
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger
from costledger.integrations.anthropic import instrument, message_event

from .conftest import sdk

HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-5"
ASK = {"model": HAIKU, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


def _message(model: str = HAIKU, **usage: Any) -> Any:
    types = sdk("anthropic").types
    return types.Message.model_validate({
        "id": "msg_01abc", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": usage,
    })  # fmt: skip


def test_uncached_input_larger_than_the_cache_still_adds_the_cache(ledger: Ledger) -> None:
    # 12,000 uncached + 5,000 read from the cache: Anthropic never counts the cache in input_tokens.
    message = _message(input_tokens=12000, cache_read_input_tokens=5000, output_tokens=300)
    assert message_event(message)["usage"] == {"input_tokens": 17000, "cache_read_tokens": 5000,
                                               "output_tokens": 300}  # fmt: skip
    # 12,000 × $1/M = 0.012; 5,000 × $0.10/M = 0.0005; 300 × $5/M = 0.0015 → $0.014
    assert ledger.record_anthropic(message).cost_usd == Decimal("0.014")


def test_cache_writes_split_into_5_minute_and_1_hour_ones(ledger: Ledger) -> None:
    searches = {"web_search_requests": 3, "web_fetch_requests": 0}
    message = _message(input_tokens=2000, cache_creation_input_tokens=100000, cache_read_input_tokens=0,
                       cache_creation={"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100000},
                       output_tokens=500, server_tool_use=searches)  # fmt: skip
    event = message_event(message)
    assert event["usage"] == {"input_tokens": 102000, "cache_write_tokens": 100000, "cache_write_1h_tokens": 100000,
                              "output_tokens": 500, "web_searches": 3}  # fmt: skip
    # 2,000 × $1/M = 0.002; 100,000 1-hour writes × $2/M = 0.2; 500 × $5/M = 0.0025; 3 searches × $0.01 = 0.03
    assert ledger.record_anthropic(message).cost_usd == Decimal("0.2345")


def test_above_200k_prompt_tokens_counting_the_cache_is_long_context(ledger: Ledger) -> None:
    # 150,000 uncached + 60,000 cache reads = 210,000 prompt tokens: Sonnet 4.5's long-context prices.
    message = _message(SONNET, input_tokens=150000, cache_read_input_tokens=60000, output_tokens=1000)
    # 150,000 × $6/M = 0.9; 60,000 × $0.60/M = 0.036; 1,000 × $22.50/M = 0.0225 → $0.9585
    assert ledger.record_anthropic(message).cost_usd == Decimal("0.9585")


def test_batch_results_and_service_tiers_are_priced_as_billed(ledger: Ledger) -> None:
    types = sdk("anthropic").types.messages
    message = _message(input_tokens=4000, output_tokens=1000, server_tool_use={"web_search_requests": 2,
                                                                                  "web_fetch_requests": 0})  # fmt: skip
    result = types.MessageBatchIndividualResponse.model_validate(
        {"custom_id": "req-7", "result": {"type": "succeeded", "message": message.model_dump()}}
    )
    event = message_event(result)
    assert event["service_tier"] == "batch" and event["metadata"]["custom_id"] == "req-7"
    assert event["usage"] == {"input_tokens": 4000, "output_tokens": 1000, "web_searches": 2}  # no halving
    # Batch: 4,000 × $0.50/M = 0.002; 1,000 × $2.50/M = 0.0025; 2 searches × $0.01 = 0.02 (not discounted)
    assert ledger.record_anthropic(result).cost_usd == Decimal("0.0245")
    fast = _message(input_tokens=10, output_tokens=5, speed="fast", service_tier="standard")
    priority = _message(input_tokens=10, output_tokens=5, service_tier="priority")
    assert message_event(fast)["service_tier"] == "fast" and message_event(priority)["service_tier"] == "priority"


def test_failed_batch_request_is_refused() -> None:
    types = sdk("anthropic").types.messages
    errored = types.MessageBatchIndividualResponse.model_validate({"custom_id": "r", "result": {"type": "expired"}})
    with pytest.raises(ValueError, match="did not succeed"):
        message_event(errored)


def test_same_message_recorded_twice_counts_once(ledger: Ledger) -> None:
    message = _message(input_tokens=10, output_tokens=5)
    assert ledger.record_anthropic(message).accepted == 1
    again = ledger.record_anthropic(message)
    assert again.accepted == 0 and again.duplicates == 1


@pytest.mark.timeout(60)
def test_every_call_path_of_the_client_records_once(ledger: Ledger, providers: Any) -> None:
    anthropic = sdk("anthropic")
    providers.anthropic_usage = {"input_tokens": 12000, "cache_read_input_tokens": 5000, "output_tokens": 300}
    client = instrument(anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0),
                        ledger.session("room-9"), agent="critic")  # fmt: skip
    client.messages.create(**ASK)
    for _ in client.messages.create(**ASK, stream=True):
        pass
    with client.messages.stream(**ASK) as stream:
        assert stream.get_final_text() == "Noted."
    client.messages.parse(**ASK)
    client.messages.with_raw_response.create(**ASK).parse()
    with client.messages.with_streaming_response.create(**ASK) as raw:
        raw.read()
    client.with_options(timeout=20).messages.create(**ASK)
    client.beta.messages.create(**ASK)
    client.messages.count_tokens(model=HAIKU, messages=ASK["messages"])  # not billed as a message
    for event in client.messages.create(**ASK, stream=True):
        if event.type == "message_delta":
            break  # dropped before message_stop, never closed: recorded when collected
    gc.collect()
    summary = ledger.session_summary("room-9")
    assert summary is not None and summary.events == 9 and summary.by_agent == {"critic": summary.cost_usd}
    # 9 billed calls × $0.014 (12,000 uncached × $1/M + 5,000 read × $0.10/M + 300 out × $5/M)
    assert summary.cost_usd == Decimal("0.126")


@pytest.mark.timeout(60)
def test_a_stream_cut_short_after_message_start_records_what_it_said(ledger: Ledger, providers: Any) -> None:
    anthropic = sdk("anthropic")
    providers.anthropic_usage = {"input_tokens": 12000, "cache_read_input_tokens": 5000, "output_tokens": 300}
    providers.hold_after = 1  # the server sends message_start, then nothing until released
    client = instrument(anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0),
                        ledger.session("room-cut"))  # fmt: skip
    with client.messages.create(**ASK, stream=True) as stream:
        assert next(iter(stream)).type == "message_start"
    providers.release.set()
    summary = ledger.session_summary("room-cut")
    assert summary is not None and summary.events == 1
    # message_start's usage: 12,000 × $1/M + 5,000 read × $0.10/M + 1 output token × $5/M
    assert summary.cost_usd == Decimal("0.012505")


@pytest.mark.timeout(60)
def test_async_client_and_gzip_replies(ledger: Ledger, providers: Any) -> None:
    anthropic = sdk("anthropic")
    providers.gzip = True
    client = instrument(anthropic.AsyncAnthropic(base_url=providers.url, api_key="test", max_retries=0), ledger)

    async def run() -> None:
        await client.messages.create(**ASK)
        async for _ in await client.messages.create(**ASK, stream=True):
            pass
        async with client.messages.stream(**ASK) as stream:
            await stream.get_final_message()
        await client.with_options(timeout=20).beta.messages.create(**ASK)

    asyncio.run(run())
    # 4 calls × (1,200 × $1/M + 80 × $5/M = 0.0016)
    assert ledger.total_usd() == Decimal("0.0064")
