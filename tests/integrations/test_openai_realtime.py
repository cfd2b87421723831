"""OpenAI Realtime: the real SDK's Realtime connection against a loopback WebSocket server speaking its events.

Prices are OpenAI's published rates (per million tokens), computed by hand: gpt-realtime text in
$4, cached text $0.40, audio in $32, cached audio $0.40, text out $16, audio out $64;
gpt-4o-transcribe text in $2.50, audio in $6, output $10; whisper-1 $0.006 per minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger
from costledger.integrations.openai import instrument
from costledger.integrations.openai_realtime import RealtimeUsage, record_realtime

from .conftest import sdk

# One voice turn: 10,000 input tokens (2,000 text, 8,000 audio; 4,000 of them cached, 1,000
# text and 3,000 audio), 3,000 output tokens (500 text, 2,500 audio).
TURN = {
    "input_tokens": 10000, "output_tokens": 3000, "total_tokens": 13000,
    "input_token_details": {"text_tokens": 2000, "audio_tokens": 8000, "image_tokens": 0, "cached_tokens": 4000,
                            "cached_tokens_details": {"text_tokens": 1000, "audio_tokens": 3000, "image_tokens": 0}},
    "output_token_details": {"text_tokens": 500, "audio_tokens": 2500},
}  # fmt: skip
# 1,000 text × $4/M + 1,000 cached text × $0.40/M + 5,000 audio × $32/M + 3,000 cached audio × $0.40/M
# + 500 text out × $16/M + 2,500 audio out × $64/M = 0.004 + 0.0004 + 0.16 + 0.0012 + 0.008 + 0.16
TURN_USD = Decimal("0.3336")


@pytest.fixture
def realtime() -> Iterator[Any]:
    sdk("websockets")
    from loopback_providers import LoopbackRealtime

    with LoopbackRealtime() as server:
        server.usage = TURN
        yield server


def test_response_done_audio_tokens_are_priced_as_audio(ledger: Ledger) -> None:
    usage = RealtimeUsage(ledger, agent="receptionist")
    usage.observe({"type": "session.created", "session": {"type": "realtime", "model": "gpt-realtime"}})
    event = usage.event({"type": "response.done", "response": {"id": "resp_9", "usage": TURN}})
    assert event is not None and event["event_id"] == "openai:resp_9" and event["model"] == "gpt-realtime"
    assert event["usage"] == {"input_tokens": 10000, "cache_read_tokens": 4000, "input_audio_tokens": 8000,
                              "cache_audio_read_tokens": 3000, "output_tokens": 3000,
                              "output_audio_tokens": 2500}  # fmt: skip
    assert ledger.record(event).cost_usd == TURN_USD


@pytest.mark.timeout(60)
def test_an_instrumented_clients_realtime_connection_records_responses_and_transcriptions(
    ledger: Ledger, realtime: Any
) -> None:
    openai = sdk("openai")
    realtime.transcription_usage = {"type": "tokens", "input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500,
                                    "input_token_details": {"audio_tokens": 1100, "text_tokens": 100}}  # fmt: skip
    sdk_client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", websocket_base_url=realtime.url)
    client = instrument(sdk_client, ledger.session("call-3"), agent="receptionist")
    with client.realtime.connect(model="gpt-realtime") as connection:
        connection.input_audio_buffer.commit()
        connection.response.create()
        for event in connection:
            if event.type == "response.done":
                break
    by_model = {e["model"]: e for e in ledger.session_events("call-3")}
    assert set(by_model) == {"gpt-realtime", "gpt-4o-transcribe"}
    assert by_model["gpt-realtime"]["cost_usd"] == TURN_USD
    # 100 text × $2.50/M + 1,100 audio × $6/M + 300 × $10/M = 0.00025 + 0.0066 + 0.003
    assert by_model["gpt-4o-transcribe"]["cost_usd"] == Decimal("0.00985")


@pytest.mark.timeout(60)
def test_record_realtime_on_an_async_connection(ledger: Ledger, realtime: Any) -> None:
    openai = sdk("openai")
    realtime.transcription_model = "whisper-1"
    realtime.transcription_usage = {"type": "duration", "seconds": 30}
    client = openai.AsyncOpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", websocket_base_url=realtime.url)

    async def run() -> None:
        async with client.realtime.connect(model="gpt-realtime") as connection:
            record_realtime(connection, ledger)
            await connection.input_audio_buffer.commit()
            await connection.response.create()
            async for event in connection:
                if event.type == "response.done":
                    break

    asyncio.run(run())
    # The turn, and 30 s of whisper-1 at $0.006 a minute = 0.003
    assert ledger.total_usd() == TURN_USD + Decimal("0.003")
