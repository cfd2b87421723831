"""Pipecat: an observer that turns a pipeline's usage metrics into priced events for the call's session.

    from costledger.integrations.pipecat import CostObserver

    observer = CostObserver(ledger, session_id=call_id, user_id=…, agent="receptionist")
    worker = PipelineWorker(pipeline, params=PipelineParams(enable_usage_metrics=True), observers=[observer])

Every `LLMUsageMetricsData` (one per inference, so each is priced at its own
prompt size), `STTUsageMetricsData` (audio seconds since the last report) and
`TTSUsageMetricsData` (characters) a service pushes becomes one event, recorded as
it comes. The service is the pushing processor's (`pipecat.services.anthropic…` → anthropic), the
model its metrics'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipecat.frames.frames import MetricsFrame
from pipecat.metrics.metrics import LLMUsageMetricsData, STTUsageMetricsData, TTSUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed

from ._recording import Recorder, count, nonzero, record_safely, stable_id, with_fields

# Pipecat's services report the prompt net of the cache for these providers (Anthropic's
# and Bedrock's APIs do), gross for the others (pipecat.metrics.metrics.LLMTokenUsage).
NET_OF_CACHE = ("pipecat.services.anthropic.", "pipecat.services.aws.llm")
SERVICES = {"aws": "bedrock"}


def service_of(processor: Any) -> str:
    """The provider of a Pipecat service, from the package it lives in (pipecat.services.<provider>…)."""
    parts = type(processor).__module__.split(".")
    if parts[:2] == ["pipecat", "services"] and len(parts) > 2:
        return SERVICES.get(parts[2], parts[2])
    return "unknown"


def llm_meters(tokens: Any, net_of_cache: bool) -> dict[str, Any]:
    """costledger meters of an `LLMTokenUsage`: the prompt counted whole, cache and audio parts inside it."""
    read, written = count(tokens, "cache_read_input_tokens"), count(tokens, "cache_creation_input_tokens")
    prompt = count(tokens, "prompt_tokens") + (read + written if net_of_cache else 0)
    return nonzero({
        "input_tokens": prompt,
        "cache_read_tokens": read,
        "cache_write_tokens": written,
        "input_audio_tokens": count(tokens, "input_audio_tokens"),
        "cache_audio_read_tokens": count(tokens, "cache_read_input_audio_tokens"),
        "output_tokens": count(tokens, "completion_tokens"),
        "output_audio_tokens": count(tokens, "output_audio_tokens"),
        "output_reasoning_tokens": count(tokens, "reasoning_tokens"),
    }) or {"input_tokens": 0}  # fmt: skip


class CostObserver(BaseObserver):
    """A Pipecat observer recording the usage metrics of a call's services under its session."""

    def __init__(self, target: Recorder[Any], *, session_id: str, **fields: Any) -> None:
        # Each frame once, when its service first pushes it: later pushes pass the same frame on.
        super().__init__(observe_every_push=False)
        self.target = target
        self.session_id = session_id
        self.fields = fields

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if not isinstance(frame, MetricsFrame):
            return
        events = [self.event(data.source, metrics, f"{frame.id}.{n}") for n, metrics in enumerate(frame.data)]
        found = [event for event in events if event is not None]
        # Recorded at once: Pipecat cancels its observers' tasks when the pipeline ends, so work
        # handed to a thread could be cut off. One insert per inference is a millisecond or two.
        record_safely(self.target, found)

    def event(self, processor: Any, metrics: Any, key: str) -> dict[str, Any] | None:
        """The usage event of one metrics item, None for timing metrics."""
        if isinstance(metrics, LLMUsageMetricsData):
            net = type(processor).__module__.startswith(NET_OF_CACHE)
            operation, usage = "llm_completion", llm_meters(metrics.value, net)
        elif isinstance(metrics, STTUsageMetricsData):
            operation, usage = "stt", {"audio_seconds": Decimal(str(round(metrics.value.audio_seconds, 3)))}
        elif isinstance(metrics, TTSUsageMetricsData):
            operation, usage = "tts", {"characters": int(metrics.value)}
        else:
            return None
        event = {
            "event_id": stable_id("pipecat", self.session_id, metrics.processor, key),
            "service": service_of(processor),
            "model": metrics.model,
            "operation": operation,
            "usage": usage,
            "session_id": self.session_id,
            "metadata": {"processor": metrics.processor},
        }
        return with_fields(event, self.fields)


__all__ = ["CostObserver", "llm_meters", "service_of"]
