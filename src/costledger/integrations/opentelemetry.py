"""OpenTelemetry: spans with `gen_ai.*` usage, as OTLP/HTTP sends them, become usage events.

`events_from_otlp(body, content_type)` reads an `ExportTraceServiceRequest` in
protobuf (`application/x-protobuf`) or OTLP JSON (`application/json`) and returns
one event per span that reports token usage, with `event_id` = `otel:<trace id>:<span id>`
so that a re-sent export counts once. Spans without gen_ai usage are ignored, and
so are agent/workflow/tool spans, whose usage repeats their model calls'.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import jsontext
from ..dates import END, FIRST, WINDOW
from ._recording import iso, tokens_with_cache

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Provider names of the GenAI semantic conventions → costledger service names.
SERVICES = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "aws.bedrock": "bedrock",
    "x_ai": "xai",
    "mistral_ai": "mistral",
}
# These spans sum up the model calls under them; counting both would count twice.
AGGREGATE_OPERATIONS = frozenset({"invoke_agent", "create_agent", "execute_tool", "invoke_workflow"})
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
SESSION = ("gen_ai.conversation.id", "session.id", "costledger.session_id")
DIMENSIONS = {
    "user_id": ("user.id", "enduser.id", "costledger.user_id"),
    "agent": ("gen_ai.agent.name", "costledger.agent"),
    "tier": ("costledger.tier",),
    "mode": ("costledger.mode",),
    "endpoint": ("costledger.endpoint", "http.route"),
}


# The instants an event may carry (costledger.dates), as OTLP's nanoseconds since the epoch.
_FIRST_NS, _END_NS = int(FIRST.timestamp()) * 10**9, int(END.timestamp()) * 10**9


class InvalidTraces(ValueError):
    """The body is not an OTLP trace export in the format its content type names."""


@dataclass(frozen=True)
class _Span:
    trace_id: str
    span_id: str
    name: str
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]


def events_from_otlp(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The usage events in one OTLP/HTTP trace export (protobuf or JSON)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == PROTOBUF:
        spans = _protobuf_spans(body)
    elif kind == JSON:
        spans = _json_spans(body)
    else:
        raise InvalidTraces(f"content type {content_type!r}: OTLP/HTTP is {PROTOBUF} or {JSON}")
    try:
        return [event for span in spans if (event := span_event(span)) is not None]
    except InvalidTraces:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidTraces(f"malformed OTLP trace export ({exc})") from None


def span_event(span: _Span) -> dict[str, Any] | None:
    attrs = span.attributes
    if (
        not any(k in attrs for k in (*INPUT, *OUTPUT))
        or _first(attrs, ("gen_ai.operation.name",)) in AGGREGATE_OPERATIONS
    ):
        return None
    provider = _first(attrs, ("gen_ai.provider.name", "gen_ai.system"))
    service = SERVICES.get(str(provider).lower(), str(provider).lower()) if provider else "unknown"
    usage = tokens_with_cache(_count(attrs, INPUT), _count(attrs, CACHE_READ), _count(attrs, CACHE_WRITE))
    usage["output_tokens"] = _count(attrs, OUTPUT)
    event: dict[str, Any] = {
        "event_id": f"otel:{span.trace_id}:{span.span_id}",
        "service": service,
        "model": _first(attrs, ("gen_ai.response.model", "gen_ai.request.model")),
        "operation": _first(attrs, ("gen_ai.operation.name",)) or "llm_completion",
        "usage": usage,
        "metadata": {"trace_id": span.trace_id, "span_id": span.span_id, "span": span.name},
    }
    if span.end_ns:
        if not _FIRST_NS <= span.end_ns < _END_NS:
            raise InvalidTraces(f"span {span.span_id}: endTimeUnixNano {span.end_ns} is outside {WINDOW}")
        event["ts"] = iso(datetime.fromtimestamp(span.end_ns / 1e9, UTC))
    session = _first(attrs, SESSION) or _first(span.resource, SESSION)
    if session is not None:
        event["session_id"] = str(session)
    for name, keys in DIMENSIONS.items():
        value = _first(attrs, keys) or _first(span.resource, keys)
        if value is not None:
            event[name] = str(value)
    if "service.name" in span.resource:
        event["tags"] = {"otel.service": str(span.resource["service.name"])}
    return event


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    return None


def _count(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    value = _first(attrs, keys)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        raise InvalidTraces(f"{keys[0]} must be a whole number, not {value!r}") from None


# -- protobuf -------------------------------------------------------------------------------------


def _protobuf_spans(body: bytes) -> Iterator[_Span]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidTraces(f"not an OTLP protobuf trace export ({exc})") from None
    for resource_spans in request.resource_spans:
        resource = {kv.key: _pb_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _Span(
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.name,
                    span.end_time_unix_nano,
                    {kv.key: _pb_value(kv.value) for kv in span.attributes},
                    resource,
                )


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


# -- JSON -----------------------------------------------------------------------------------------


def _json_spans(body: bytes) -> Iterator[_Span]:
    try:
        data = jsontext.loads(body)
    except jsontext.StrictJSONError as exc:
        raise InvalidTraces(str(exc)) from None
    why = jsontext.problem(data)  # before the attributes are read (recursively)
    if why:
        raise InvalidTraces(why)
    if not isinstance(data, dict):
        raise InvalidTraces('an OTLP JSON export is {"resourceSpans": [...]}')
    for resource_spans in _list(data, "resourceSpans", "resource_spans"):
        resource = _json_attributes(_dict(resource_spans, "resource"))
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                end = span.get("endTimeUnixNano", span.get("end_time_unix_nano", 0))
                if isinstance(end, bool) or not isinstance(end, int | str) or not str(end or 0).isdecimal():
                    raise InvalidTraces(f"endTimeUnixNano must be a whole number of nanoseconds, not {end!r}")
                yield _Span(
                    _json_id(span.get("traceId", span.get("trace_id", ""))),
                    _json_id(span.get("spanId", span.get("span_id", ""))),
                    str(span.get("name", "")),
                    int(end or 0),
                    _json_attributes(span),
                    resource,
                )


def _list(obj: Any, *keys: str) -> list[Any]:
    for key in keys:
        if isinstance(obj, dict) and isinstance(obj.get(key), list):
            return [item for item in obj[key] if isinstance(item, dict)]
    return []


def _dict(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _json_id(value: Any) -> str:
    """OTLP JSON writes ids in hex; some exporters write base64 (protobuf's JSON mapping)."""
    text = str(value)
    try:
        bytes.fromhex(text)
        return text.lower()
    except ValueError:
        try:
            return base64.b64decode(text, validate=True).hex()
        except ValueError:
            raise InvalidTraces(f"span or trace id {text!r} is neither hex nor base64") from None


def _json_attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {str(kv.get("key")): _json_value(kv.get("value") or {}) for kv in _list(obj, "attributes")}


def _json_value(value: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue", "string_value", "bool_value", "double_value"):
        if key in value:
            return value[key]
    for key in ("intValue", "int_value"):
        if key in value:
            return int(value[key])  # int64 is a string in OTLP JSON
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [_json_value(v) for v in _list(value[key], "values")]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return _json_attributes({"attributes": value[key].get("values", [])})
    return None


__all__ = ["InvalidTraces", "events_from_otlp", "span_event"]
