"""OpenTelemetry: what the real opentelemetry-sdk OTLP/HTTP exporter sends, read back as usage events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import costledger
from costledger import Ledger
from costledger.integrations.opentelemetry import InvalidTraces, events_from_otlp, read_otlp

from .conftest import sdk


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A loopback OTLP/HTTP endpoint that keeps each export's content type and body."""
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.headers["content-type"], body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces", received
    httpd.shutdown()
    httpd.server_close()


def export_spans(endpoint: str, headers: dict[str, str] | None = None, gzip: bool = False) -> list[tuple[str, str]]:
    """Two model calls and an agent span around them, and a span with no usage, exported once."""
    sdk("opentelemetry.sdk")
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    compression = Compression.Gzip if gzip else Compression.NoCompression
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=5, compression=compression)
    provider = TracerProvider(resource=Resource.create({"service.name": "council"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    ids = []
    with tracer.start_as_current_span("invoke_agent scholar") as agent:
        agent.set_attributes({"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 9000,
                              "gen_ai.usage.output_tokens": 400})  # fmt: skip
        with tracer.start_as_current_span("chat claude") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4-20250514", "gen_ai.response.model": "claude-sonnet-4-20250514",
                "gen_ai.usage.input_tokens": 8000, "gen_ai.usage.output_tokens": 350,
                "gen_ai.usage.cache_read.input_tokens": 6000, "gen_ai.conversation.id": "room-42",
                "gen_ai.agent.name": "scholar", "user.id": "u_17",
            })  # fmt: skip
            ids.append(
                (format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x"))
            )
        with tracer.start_as_current_span("chat gpt") as span:
            span.set_attributes({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                                 "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 20,
                                 "session.id": "room-42"})  # fmt: skip
            ids.append(
                (format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x"))
            )
        with tracer.start_as_current_span("http GET"):
            pass
    provider.shutdown()
    return ids


def _check(events: list[dict[str, Any]], ids: list[tuple[str, str]]) -> None:
    assert [e["event_id"] for e in events] == [f"otel:{t}:{s}" for t, s in ids]
    claude, gpt = events
    assert claude["service"] == "anthropic" and claude["model"] == "claude-sonnet-4-20250514"
    assert claude["usage"] == {"input_tokens": 8000, "cache_read_tokens": 6000, "output_tokens": 350}
    assert (claude["session_id"], claude["agent"], claude["user_id"]) == ("room-42", "scholar", "u_17")
    assert claude["tags"] == {"otel.service": "council"}
    assert gpt["service"] == "openai" and gpt["usage"] == {"input_tokens": 1000, "output_tokens": 20}
    assert gpt["session_id"] == "room-42"


@pytest.mark.timeout(30)
def test_protobuf_export_of_the_real_exporter(collector: Any, ledger: Ledger) -> None:
    endpoint, received = collector
    ids = export_spans(endpoint)
    content_type, body = received[-1] if len(received) == 1 else _merged(received)
    events = events_from_otlp(body, content_type)
    _check(events, ids)
    done = ledger.record_many(events)
    assert done.accepted == 2 and done.unpriced == 0
    assert done.cost_usd == (
        costledger.price("anthropic", "claude-sonnet-4-20250514", input_tokens=8000, cache_read_tokens=6000,
                         output_tokens=350).total
        + costledger.price("openai", "gpt-4o", input_tokens=1000, output_tokens=20).total
    )  # fmt: skip
    assert ledger.record_many(events).duplicates == 2


def _merged(received: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """SimpleSpanProcessor exports span by span: one request holding them all, as a batch exporter sends."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    merged = ExportTraceServiceRequest()
    for _, body in received:
        part = ExportTraceServiceRequest()
        part.ParseFromString(body)
        merged.resource_spans.extend(part.resource_spans)
    return received[0][0], merged.SerializeToString()


@pytest.mark.timeout(30)
def test_json_export_with_hex_ids_and_with_base64_ids(collector: Any) -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    endpoint, received = collector
    ids = export_spans(endpoint)
    content_type, body = _merged(received)
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    as_base64 = MessageToDict(request)  # protobuf's own JSON mapping: ids in base64
    _check(events_from_otlp(json.dumps(as_base64).encode(), "application/json"), ids)
    # OTLP/JSON proper writes ids in hex.
    for rs in as_base64["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        import base64

                        span[key] = base64.b64decode(span[key]).hex()
    _check(events_from_otlp(json.dumps(as_base64).encode(), "application/json; charset=utf-8"), ids)


def _json_export(*spans: list[tuple[str, Any]]) -> bytes:
    """An OTLP JSON export of spans given as (attribute, value) lists, ids numbered."""

    def value(v: Any) -> dict[str, Any]:
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": f"b7ad6b716920333{n}", "name": "chat",
         "endTimeUnixNano": "1790000000000000000",
         "attributes": [{"key": k, "value": value(v)} for k, v in attributes]}
        for n, attributes in enumerate(spans)
    ]}]}]}).encode()  # fmt: skip


def test_parts_larger_than_the_prompt_are_rejected_not_guessed(ledger: Ledger) -> None:
    from costledger.server.traces import record_traces

    body = _json_export(
        [("gen_ai.provider.name", "anthropic"), ("gen_ai.request.model", "claude-haiku-4-5"),
         ("gen_ai.usage.input_tokens", 100), ("gen_ai.usage.cache_read.input_tokens", 900),
         ("gen_ai.usage.output_tokens", 5)],
        [("gen_ai.provider.name", "anthropic"), ("gen_ai.request.model", "claude-haiku-4-5"),
         ("gen_ai.usage.input_tokens", 1000), ("gen_ai.usage.cache_read.input_tokens", 900),
         ("gen_ai.usage.output_tokens", 5)],
    )  # fmt: skip
    recorded, rejected = record_traces(ledger, body, "application/json")
    assert recorded.accepted == 1 and len(rejected) == 1 and "b7ad6b7169203330" in rejected[0]
    # 100 uncached × $1/M + 900 read × $0.10/M + 5 × $5/M = 0.0001 + 0.00009 + 0.000025
    assert recorded.cost_usd == Decimal("0.000215")
    (event,) = events_from_otlp(body, "application/json")[1:]
    assert event["ts"] == "2026-09-21T14:13:20Z"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{}", "text/plain", "content type"),
        (b"\xff\x00garbage", "application/x-protobuf", "protobuf"),
        (b"[1, 2", "application/json", "JSON"),
    ],
)  # fmt: skip
def test_malformed_exports_are_refused(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidTraces, match=message):
        events_from_otlp(body, content_type)


def test_a_bad_span_is_rejected_the_others_read() -> None:
    body = _json_export(
        [("gen_ai.provider.name", "openai"), ("gen_ai.request.model", "gpt-4o-mini"),
         ("gen_ai.usage.input_tokens", "lots"), ("gen_ai.usage.output_tokens", 5)],
        [("gen_ai.provider.name", "openai"), ("gen_ai.request.model", "gpt-4o-mini"),
         ("gen_ai.usage.input_tokens", 1000), ("gen_ai.usage.output_tokens", 5)],
    )  # fmt: skip
    bad_id = body.replace(b'"b7ad6b7169203331"', b'"zz"')
    export = read_otlp(bad_id, "application/json")
    assert [e["usage"] for e in export.events] == []
    assert "lots" in export.rejected[0] and "neither hex nor base64" in export.rejected[1]
    export = read_otlp(body, "application/json")
    assert [e["usage"] for e in export.events] == [{"input_tokens": 1000, "output_tokens": 5}]
    assert len(export.rejected) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("gzip", [False, True])
def test_real_exporter_into_costledger_serve(served: Any, gzip: bool) -> None:
    import httpx

    url, key, db = served
    ids = export_spans(f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, gzip=gzip)
    with Ledger(db) as ledger:
        summary = ledger.session_summary("room-42")
        assert summary is not None and summary.events == 2 and summary.unpriced == 0
        assert {e["event_id"] for e in ledger.session_events("room-42")} == {f"otel:{t}:{s}" for t, s in ids}
    # Without a key, and with something that is not OTLP:
    assert httpx.post(f"{url}/v1/traces", content=b"x", headers={"content-type": PROTOBUF_CT}).status_code == 401
    bad = httpx.post(f"{url}/v1/traces", content=b"[", headers={"content-type": "application/json",
                                                               "authorization": f"Bearer {key}"})  # fmt: skip
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]


PROTOBUF_CT = "application/x-protobuf"


@pytest.mark.timeout(120)
def test_serve_answers_partial_success_and_keeps_the_good_spans(served: Any) -> None:
    import httpx
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    url, key, db = served
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for count in ("lots", 1000):  # an instrumentation that wrote a count as text, and a good span
        with tracer.start_as_current_span("chat") as span:
            span.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                                 "gen_ai.usage.input_tokens": count, "gen_ai.usage.output_tokens": 100,
                                 "gen_ai.conversation.id": "call-5"})  # fmt: skip
    spans = memory.get_finished_spans()
    # The real exporter sends both in one request; it does not retry a 400, so a 400 would lose both.
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert exporter.export(spans) == SpanExportResult.SUCCESS

    answer = httpx.post(f"{url}/v1/traces", content=encode_spans(spans).SerializeToString(),
                        headers={"content-type": PROTOBUF_CT, "authorization": f"Bearer {key}"})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["x-costledger-rejected"] == "1"
    response = ExportTraceServiceResponse()
    response.ParseFromString(answer.content)
    assert response.partial_success.rejected_spans == 1
    assert "gen_ai.usage.input_tokens must be a whole number, not 'lots'" in response.partial_success.error_message
    as_json = httpx.post(f"{url}/v1/traces", content=json.dumps(MessageToDict(encode_spans(spans))),
                         headers={"content-type": "application/json", "authorization": f"Bearer {key}"})  # fmt: skip
    assert as_json.json()["partialSuccess"]["rejectedSpans"] == "1"
    with Ledger(db) as ledger:
        summary = ledger.session_summary("call-5")
        # One good span, stored once however often it was sent: 1,000 × $0.15/M + 100 × $0.60/M = 0.00021
        assert summary is not None and summary.events == 1 and summary.cost_usd == Decimal("0.00021")
