"""Spans from the instrumentation people run, over the real OTLP exporter: one call, one event.

The spans come from the packages themselves — the Anthropic SDK's own tracing,
OpenLLMetry (`opentelemetry-instrumentation-anthropic/openai`) and OpenInference
(`openinference-instrumentation-anthropic/openai`) — wrapping the real SDK clients
against the loopback provider server; nothing sets their attributes by hand.

Prices are Anthropic's and OpenAI's published rates (per million tokens), by hand:
claude-haiku-4-5 input $1, output $5, cache read $0.10, 5-minute write $1.25, 1-hour write
$2, web search $10 per 1,000; gpt-4o-mini input $0.15, cached $0.075, output $0.60.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger
from costledger.integrations.anthropic import instrument
from costledger.integrations.opentelemetry import read_otlp

from .conftest import sdk
from .test_opentelemetry import _merged, collector  # noqa: F401  # the loopback OTLP endpoint

ASK = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
# 12,000 uncached + 5,000 cache reads + 3,000 cache writes (1,000 for 5 minutes, 2,000 for an hour).
USAGE = {"input_tokens": 12000, "cache_read_input_tokens": 5000, "cache_creation_input_tokens": 3000,
         "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
         "output_tokens": 300, "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0}}  # fmt: skip


@contextmanager
def tracing(endpoint: str, *instrumentations: str) -> Iterator[Any]:
    """A tracer provider exporting span by span to `endpoint`, with the named instrumentations on."""
    sdk("opentelemetry.sdk")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
    instrumentors = []
    for name in instrumentations:
        module = sdk(f"{name}.instrumentation.anthropic")
        instrumentors.append(module.AnthropicInstrumentor())
        instrumentors.append(sdk(f"{name}.instrumentation.openai").OpenAIInstrumentor())
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
        provider.shutdown()


def _export(received: list[tuple[str, bytes]]) -> Any:
    return read_otlp(_merged(received)[1], "application/x-protobuf")


@pytest.mark.timeout(60)
def test_openinference_spans_become_priced_events(ledger: Ledger, providers: Any, collector: Any) -> None:  # noqa: F811
    anthropic, openai = sdk("anthropic"), sdk("openai")
    endpoint, received = collector
    providers.anthropic_usage = USAGE
    providers.openai_usage = {"input_tokens": 2000, "output_tokens": 50, "cached_tokens": 1500}
    with tracing(endpoint, "openinference"):
        client = anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0, open_telemetry=False)
        client.messages.create(**ASK)
        chat = openai.OpenAI(base_url=providers.url + "/v1", api_key="test", max_retries=0)
        chat.chat.completions.create(**CHAT)
    export = _export(received)
    claude, gpt = export.events
    # Keyed by the provider's response id (OpenInference keeps it in output.value), as instrument() keys them.
    assert claude["event_id"].startswith("anthropic:msg_loop") and gpt["event_id"].startswith("openai:chatcmpl_loop")
    assert claude["usage"] == {"input_tokens": 20000, "cache_read_tokens": 5000, "cache_write_tokens": 3000,
                               "output_tokens": 300, "web_searches": 2}  # fmt: skip
    done = ledger.record_many(export.events)
    assert done.accepted == 2 and done.unpriced == 0 and export.rejected == []
    # OpenInference has no 5m/1h split, so its 3,000 writes are 5-minute writes:
    # Claude: 12,000 × $1/M + 5,000 × $0.10/M + 3,000 × $1.25/M + 300 × $5/M + 2 × $0.01 = 0.03775
    # GPT: 500 × $0.15/M + 1,500 × $0.075/M + 50 × $0.60/M = 0.0002175
    assert done.cost_usd == Decimal("0.0379675")


@pytest.mark.timeout(60)
def test_sdk_spans_openllmetry_openinference_and_instrument_count_each_call_once(
    ledger: Ledger,
    providers: Any,
    collector: Any,  # noqa: F811
) -> None:
    anthropic = sdk("anthropic")
    endpoint, received = collector
    providers.anthropic_usage = USAGE
    with tracing(endpoint, "opentelemetry", "openinference") as provider:
        # The SDK emits its own gen_ai span for each call once it has a tracer provider.
        client = anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0,
                                     open_telemetry={"tracer_provider": provider})  # fmt: skip
        instrument(client, ledger, agent="scholar")
        client.messages.create(**ASK)
        for _ in client.messages.create(**ASK, stream=True):
            pass
    export = _export(received)
    sources = {e["metadata"]["source"] for e in export.events}
    assert len(export.events) == 2 and sources == {"com.anthropic.sdk.python"}  # 6 spans, 2 calls
    # instrument() recorded both calls first; the spans of the same calls are duplicates.
    again = ledger.record_many(export.events)
    assert again.accepted == 0 and again.duplicates == 2
    # The SDK's span keeps the 1-hour writes apart and OpenInference the searches: merged, as instrument() saw.
    assert export.events[0]["usage"] == {"input_tokens": 20000, "cache_read_tokens": 5000, "cache_write_tokens": 3000,
                                         "cache_write_5m_tokens": 1000, "cache_write_1h_tokens": 2000,
                                         "output_tokens": 300, "web_searches": 2}  # fmt: skip
    # Each: 12,000 × $1/M + 5,000 × $0.10/M + 1,000 × $1.25/M + 2,000 × $2/M + 300 × $5/M + 2 × $0.01 = 0.03925
    assert ledger.total_usd() == Decimal("0.0785")


@pytest.mark.timeout(60)
def test_the_sdks_own_spans_alone_price_1_hour_writes(ledger: Ledger, providers: Any, collector: Any) -> None:  # noqa: F811
    anthropic = sdk("anthropic")
    endpoint, received = collector
    providers.anthropic_usage = {k: v for k, v in USAGE.items() if k != "server_tool_use"}
    with tracing(endpoint) as provider:
        client = anthropic.Anthropic(base_url=providers.url, api_key="test", max_retries=0,
                                     open_telemetry={"tracer_provider": provider})  # fmt: skip
        client.messages.create(**ASK)
    (event,) = _export(received).events
    assert event["usage"]["cache_write_1h_tokens"] == 2000  # from gen_ai.usage.cache_write.input_tokens and
    # anthropic.usage.cache_creation.ephemeral_1h_input_tokens
    # 12,000 × $1/M + 5,000 × $0.10/M + 1,000 × $1.25/M + 2,000 × $2/M + 300 × $5/M = 0.01925
    assert ledger.record_many([event]).cost_usd == Decimal("0.01925")
