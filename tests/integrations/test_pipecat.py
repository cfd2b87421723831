"""Pipecat: a real pipeline, its real Anthropic and OpenAI services against the loopback provider server.

Prices are the providers' published rates (per million tokens), computed by hand:
claude-haiku-4-5 input $1, cache read $0.10, output $5; gpt-4o-mini input $0.15, cached
$0.075, output $0.60; tts-1 $15 per million characters; whisper-1 $0.006 per minute.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger

from .conftest import sdk


def _run(*services: Any, frames: list[Any], observer: Any) -> None:
    from pipecat.frames.frames import EndFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.task import PipelineParams
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    async def run() -> None:
        worker = PipelineWorker(Pipeline(list(services)), observers=[observer],
                                params=PipelineParams(enable_metrics=True, enable_usage_metrics=True))  # fmt: skip
        await worker.queue_frames([*frames, EndFrame()])
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    asyncio.run(run())


@pytest.mark.timeout(60)
def test_llm_usage_of_net_and_gross_services_is_priced_per_inference(ledger: Ledger, providers: Any) -> None:
    sdk("pipecat")
    anthropic = sdk("anthropic")
    sdk("openai")
    from pipecat.frames.frames import LLMContextFrame
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.services.anthropic.llm import AnthropicLLMService
    from pipecat.services.openai.llm import OpenAILLMService

    from costledger.integrations.pipecat import CostObserver

    providers.anthropic_usage = {"input_tokens": 12000, "cache_read_input_tokens": 5000, "output_tokens": 300}
    providers.openai_usage = {"input_tokens": 2000, "output_tokens": 50, "cached_tokens": 1500}
    claude = AnthropicLLMService(
        api_key="test", settings=AnthropicLLMService.Settings(model="claude-haiku-4-5"),
        client=anthropic.AsyncAnthropic(base_url=providers.url, api_key="test", max_retries=0),
    )  # fmt: skip
    gpt = OpenAILLMService(api_key="test", base_url=providers.url + "/v1",
                           settings=OpenAILLMService.Settings(model="gpt-4o-mini"))  # fmt: skip
    observer = CostObserver(ledger, session_id="call-7", agent="receptionist", user_id="u_17")
    context = LLMContext(messages=[{"role": "user", "content": "hi"}])
    _run(claude, frames=[LLMContextFrame(context=context)], observer=observer)
    _run(gpt, frames=[LLMContextFrame(context=context)], observer=observer)
    events = {e["service"]: e for e in ledger.session_events("call-7")}
    # Pipecat's Anthropic service reports the prompt net of the cache, its OpenAI service gross.
    assert events["anthropic"]["usage"] == {"input_tokens": 17000, "cache_read_tokens": 5000, "output_tokens": 300}
    assert events["openai"]["usage"] == {"input_tokens": 2000, "cache_read_tokens": 1500, "output_tokens": 50}
    assert {e["agent"] for e in events.values()} == {"receptionist"}
    # Claude: 12,000 × $1/M + 5,000 × $0.10/M + 300 × $5/M = 0.014
    # GPT: 500 × $0.15/M + 1,500 × $0.075/M + 50 × $0.60/M = 0.0002175
    summary = ledger.session_summary("call-7")
    assert summary is not None and summary.unpriced == 0 and summary.cost_usd == Decimal("0.0142175")


@pytest.mark.timeout(60)
def test_tts_characters_and_stt_seconds(ledger: Ledger, providers: Any) -> None:
    sdk("pipecat")
    from pipecat.frames.frames import MetricsFrame, TTSSpeakFrame
    from pipecat.metrics.metrics import STTUsage, STTUsageMetricsData, TTFBMetricsData
    from pipecat.observers.base_observer import FramePushed
    from pipecat.processors.frame_processor import FrameDirection
    from pipecat.services.openai.stt import OpenAISTTService
    from pipecat.services.openai.tts import OpenAITTSService

    from costledger.integrations.pipecat import CostObserver

    observer = CostObserver(ledger, session_id="call-8")
    tts = OpenAITTSService(api_key="test", base_url=providers.url + "/v1", settings=OpenAITTSService.Settings(
        model="tts-1", voice="alloy"))  # fmt: skip
    _run(tts, frames=[TTSSpeakFrame("Hello there, caller.")], observer=observer)
    # A segmented STT service reports the seconds it sent, as STTUsageMetricsData in a MetricsFrame.
    stt = OpenAISTTService(api_key="test", base_url=providers.url + "/v1",
                           settings=OpenAISTTService.Settings(model="whisper-1"))  # fmt: skip
    usage = MetricsFrame(data=[STTUsageMetricsData(processor=stt.name, model="whisper-1",
                                                   value=STTUsage(audio_seconds=90.0)),
                               TTFBMetricsData(processor=stt.name, model="whisper-1", value=0.2)])  # fmt: skip
    asyncio.run(observer.on_push_frame(FramePushed(source=stt, destination=stt, frame=usage,
                                                   direction=FrameDirection.DOWNSTREAM, timestamp=0)))  # fmt: skip
    by_model = {e["model"]: e for e in ledger.session_events("call-8")}
    assert by_model["tts-1"]["usage"] == {"characters": 20}
    assert by_model["whisper-1"]["usage"] == {"audio_seconds": Decimal("90.0")}
    # tts-1: 20 characters × $15/M = 0.0003; whisper-1: 1.5 minutes × $0.006 = 0.009
    summary = ledger.session_summary("call-8")
    assert summary is not None and summary.events == 2 and summary.cost_usd == Decimal("0.0093")
