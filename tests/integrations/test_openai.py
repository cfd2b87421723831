"""OpenAI: responses built from the SDK's own types, and the real client against a loopback server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import costledger
from costledger import Ledger
from costledger.integrations.openai import instrument

from .conftest import sdk


def test_chat_completion_cached_tokens_are_cache_reads_within_the_prompt(ledger: Ledger) -> None:
    types = sdk("openai").types
    completion = types.chat.ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}],
            "usage": {"prompt_tokens": 6000, "completion_tokens": 200, "total_tokens": 6200,
                      "prompt_tokens_details": {"cached_tokens": 4000}},
        }
    )  # fmt: skip
    with ledger.session("s-1") as s:
        done = s.record_openai(completion, agent="aria")
    assert (
        done.cost_usd
        == costledger.price("openai", "gpt-4o", input_tokens=6000, cache_read_tokens=4000, output_tokens=200).total
    )
    assert done.cost_usd < costledger.price("openai", "gpt-4o", input_tokens=6000, output_tokens=200).total


def test_responses_api_usage_and_web_search_calls(ledger: Ledger) -> None:
    types = sdk("openai").types
    response = types.responses.Response.model_construct(
        id="resp_1",
        object="response",
        model="gpt-4o",
        output=[types.responses.ResponseFunctionWebSearch.model_construct(id="ws", type="web_search_call")] * 2,
        usage=types.responses.ResponseUsage.model_validate(
            {"input_tokens": 3000, "output_tokens": 100, "total_tokens": 3100,
             "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 0}}
        ),
    )  # fmt: skip
    done = ledger.record_openai(response)
    assert (
        done.cost_usd
        == costledger.price(
            "openai", "gpt-4o", input_tokens=3000, cache_read_tokens=1000, output_tokens=100, web_searches=2
        ).total
    )


def test_response_without_usage_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="include_usage"):
        ledger.record_openai({"id": "x", "model": "gpt-4o"})


@pytest.mark.timeout(30)
def test_instrumented_client_records_chat_and_responses_streamed_or_not(ledger: Ledger, providers: Any) -> None:
    openai = sdk("openai")
    providers.openai_usage = {"input_tokens": 2000, "output_tokens": 50, "cached_tokens": 1500}
    client = instrument(openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0),
                        ledger.session("s-2"), agent="aria")  # fmt: skip
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    client.chat.completions.create(**chat)
    for _ in client.chat.completions.create(**chat, stream=True):
        pass
    client.responses.create(model="gpt-4o-mini", input="hi")
    with client.responses.create(model="gpt-4o-mini", input="hi", stream=True) as events:
        kinds = [e.type for e in events]
    assert kinds == ["response.created", "response.completed"]
    # The streamed chat asked for its usage without being told to.
    assert providers.requests[1][1]["stream_options"] == {"include_usage": True}
    one = costledger.price("openai", "gpt-4o-mini", input_tokens=2000, cache_read_tokens=1500, output_tokens=50).total
    summary = ledger.session_summary("s-2")
    assert summary is not None and summary.events == 4 and summary.cost_usd == 4 * one


@pytest.mark.timeout(30)
def test_instrumented_async_client(ledger: Ledger, providers: Any) -> None:
    openai = sdk("openai")
    client = instrument(openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0), ledger)

    async def run() -> None:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        async for _ in await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass
        async for _ in await client.responses.create(model="gpt-4o", input="hi", stream=True):
            pass

    asyncio.run(run())
    one = costledger.price("openai", "gpt-4o", input_tokens=1500, output_tokens=90).total
    assert ledger.total_usd() == 3 * one
