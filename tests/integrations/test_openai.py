"""OpenAI: the SDK's own types, and the real client against a loopback server speaking its wire format.

Prices are OpenAI's published rates (per million tokens), computed by hand:
gpt-4o-mini input $0.15, cached $0.075, output $0.60; gpt-5 input $1.25, cached $0.125,
output $10, on the flex tier $0.625 / $0.0625 / $5; gpt-4o-mini-tts text in $0.60, audio out
$12; gpt-4o-transcribe text in $2.50, audio in $6, output $10; whisper-1 $0.006 per minute;
tts-1 $15 per million characters; text-embedding-3-small $0.02.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger
from costledger.integrations.openai import instrument, response_event

from .conftest import sdk

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_completion_parts_are_within_the_prompt_and_the_completion(ledger: Ledger) -> None:
    types = sdk("openai").types
    completion = types.chat.ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}],
        "usage": {"prompt_tokens": 6000, "completion_tokens": 200, "total_tokens": 6200,
                  "prompt_tokens_details": {"cached_tokens": 4000, "audio_tokens": 1000},
                  "completion_tokens_details": {"reasoning_tokens": 50, "audio_tokens": 100}},
        "service_tier": "default",
    })  # fmt: skip
    event = response_event(completion)
    assert event["usage"] == {"input_tokens": 6000, "cache_read_tokens": 4000, "input_audio_tokens": 1000,
                              "output_tokens": 200, "output_audio_tokens": 100,
                              "output_reasoning_tokens": 50}  # fmt: skip
    assert event["service_tier"] == "standard"  # OpenAI's "default"


def test_flex_tier_is_priced_at_flex_prices(ledger: Ledger) -> None:
    types = sdk("openai").types
    response = types.responses.Response.model_construct(
        id="resp_1", object="response", model="gpt-5", output=[], service_tier="flex",
        usage=types.responses.ResponseUsage.model_validate(
            {"input_tokens": 10000, "output_tokens": 2000, "total_tokens": 12000,
             "input_tokens_details": {"cached_tokens": 4000, "cache_write_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 1500}}),
    )  # fmt: skip
    # Flex: 6,000 uncached × $0.625/M = 0.00375; 4,000 cached × $0.0625/M = 0.00025; 2,000 × $5/M = 0.01
    assert ledger.record_openai(response).cost_usd == Decimal("0.014")


def test_responses_api_web_search_calls(ledger: Ledger) -> None:
    types = sdk("openai").types
    response = types.responses.Response.model_construct(
        id="resp_2", object="response", model="gpt-4o-mini",
        output=[types.responses.ResponseFunctionWebSearch.model_construct(id="ws", type="web_search_call")] * 2,
        usage=types.responses.ResponseUsage.model_validate(
            {"input_tokens": 3000, "output_tokens": 100, "total_tokens": 3100,
             "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 0}}),
    )  # fmt: skip
    # 2,000 × $0.15/M = 0.0003; 1,000 × $0.075/M = 0.000075; 100 × $0.60/M = 0.00006; 2 searches × $0.01
    assert ledger.record_openai(response).cost_usd == Decimal("0.020435")


def test_response_without_usage_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="include_usage"):
        ledger.record_openai({"id": "x", "model": "gpt-4o"})


@pytest.mark.timeout(60)
def test_every_call_path_of_the_client_records_once(ledger: Ledger, providers: Any, caplog: Any) -> None:
    openai = sdk("openai")
    providers.openai_usage = {"input_tokens": 2000, "output_tokens": 50, "cached_tokens": 1500}
    client = instrument(openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0),
                        ledger.session("s-2"), agent="aria")  # fmt: skip
    client.chat.completions.create(**CHAT)
    for _ in client.chat.completions.create(**CHAT, stream=True):
        pass
    client.chat.completions.parse(**CHAT)
    with client.chat.completions.stream(**CHAT) as stream:
        for _ in stream:
            pass
    client.chat.completions.with_raw_response.create(**CHAT).parse()
    for _ in client.with_options(timeout=20).chat.completions.create(**CHAT, stream=True, stream_options={}):
        pass
    client.responses.create(model="gpt-4o-mini", input="hi")
    with client.responses.stream(model="gpt-4o-mini", input="hi") as events:
        for _ in events:
            pass
    for chunk in client.chat.completions.create(**CHAT, stream=True):
        if chunk.usage:
            break  # dropped before [DONE], never closed: recorded when collected
    gc.collect()
    with caplog.at_level(logging.WARNING, "costledger.integrations"):
        for _ in client.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": False}):
            pass
    assert [r.getMessage() for r in caplog.records if "include_usage" in r.getMessage()] == [
        "costledger: a streamed chat completion set stream_options={'include_usage': False}: it carries no usage "
        "and is not recorded; drop it or set include_usage to True"
    ]
    # Every stream asked for its usage, stream() included; the opt-out was left as the caller set it.
    chats = [body for path, body in providers.requests if path == "/v1/chat/completions"]
    options = [body.get("stream_options") for body in chats if body.get("stream")]
    assert options == [{"include_usage": True}] * 4 + [{"include_usage": False}]
    summary = ledger.session_summary("s-2")
    assert summary is not None and summary.events == 9
    # 9 × (500 uncached × $0.15/M + 1,500 cached × $0.075/M + 50 × $0.60/M = 0.0002175)
    assert summary.cost_usd == Decimal("0.0019575")


@pytest.mark.timeout(60)
def test_running_usage_on_every_chunk_records_the_last(ledger: Ledger, providers: Any) -> None:
    openai = sdk("openai")
    providers.running_usage = True  # an OpenAI-compatible server: cumulative usage on each chunk
    providers.openai_usage = {"input_tokens": 1000, "output_tokens": 900}
    client = instrument(openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0), ledger)
    for _ in client.chat.completions.create(**CHAT, stream=True):
        pass
    (total,) = ledger.report(by="model")
    # The last chunk: 1,000 × $0.15/M + 900 × $0.60/M = 0.00069 (the first said 300 out)
    assert total.events == 1 and total.cost_usd == Decimal("0.00069")  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_audio_and_embeddings(ledger: Ledger, providers: Any) -> None:
    openai = sdk("openai")
    client = instrument(openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0), ledger)
    providers.transcription_usage = {"type": "tokens", "input_tokens": 1200, "output_tokens": 300,
                                     "input_token_details": {"audio_tokens": 1100, "text_tokens": 100}}  # fmt: skip
    client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", b"RIFF....", "audio/wav"))
    providers.transcription_usage = {"type": "duration", "seconds": 90}
    client.audio.transcriptions.create(model="whisper-1", file=("b.wav", b"RIFF....", "audio/wav"))
    providers.speech_usage = {"input_tokens": 40, "output_tokens": 1500}
    with client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="alloy", input="Noted.",
                                                            stream_format="sse") as speech:  # fmt: skip
        speech.read()
    client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there, caller.").read()
    providers.openai_usage = {"input_tokens": 5000, "output_tokens": 0}
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    by_model = {t.group["model"]: t for t in ledger.report(by="model")}
    # 100 text × $2.50/M + 1,100 audio × $6/M + 300 × $10/M = 0.00025 + 0.0066 + 0.003
    assert by_model["gpt-4o-transcribe"].cost_usd == Decimal("0.00985")
    assert by_model["whisper-1"].cost_usd == Decimal("0.009")  # 1.5 minutes × $0.006
    # 40 text tokens × $0.60/M + 1,500 audio tokens × $12/M = 0.000024 + 0.018
    assert by_model["gpt-4o-mini-tts"].cost_usd == Decimal("0.018024")
    assert by_model["tts-1"].cost_usd == Decimal("0.0003")  # 20 characters × $15/M
    assert by_model["text-embedding-3-small"].cost_usd == Decimal("0.0001")  # 5,000 × $0.02/M
    assert sum(t.unpriced for t in by_model.values()) == 0  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_async_client_gzip_and_service_tier(ledger: Ledger, providers: Any) -> None:
    openai = sdk("openai")
    providers.gzip = True
    providers.openai_service_tier = "flex"
    providers.openai_usage = {"input_tokens": 10000, "output_tokens": 2000, "cached_tokens": 4000}
    client = instrument(openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0), ledger)

    async def run() -> None:
        await client.chat.completions.create(model="gpt-5", messages=CHAT["messages"])
        async for _ in await client.chat.completions.create(model="gpt-5", messages=CHAT["messages"], stream=True):
            pass
        async for _ in await client.responses.create(model="gpt-5", input="hi", stream=True):
            pass

    asyncio.run(run())
    # 3 × flex (6,000 × $0.625/M + 4,000 × $0.0625/M + 2,000 × $5/M = 0.014)
    assert ledger.total_usd() == Decimal("0.042")


@pytest.mark.timeout(60)
def test_a_client_given_a_legacy_httpx_client(ledger: Ledger, providers: Any) -> None:
    import httpx

    openai = sdk("openai")
    client = instrument(openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0,
                                      http_client=httpx.Client()), ledger)  # fmt: skip
    client.chat.completions.create(**CHAT)
    for _ in client.chat.completions.create(**CHAT, stream=True):
        pass
    # 2 × (1,500 × $0.15/M + 90 × $0.60/M = 0.000279)
    assert ledger.total_usd() == Decimal("0.000558")
