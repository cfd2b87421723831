"""The OTLP/HTTP trace export, protobuf or JSON, read into plain spans.

An export that is not OTLP at all is refused whole (`InvalidTraces`); a span that
cannot be read (an id that is neither hex nor base64) carries its fault in
`Span.error`, so that the others are still read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class InvalidTraces(ValueError):
    """The body is not an OTLP trace export in the format its content type names."""


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    name: str
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope: str = ""  # the instrumentation that made it: com.anthropic.sdk.python, openinference…
    error: str | None = field(default=None)


def spans(body: bytes, content_type: str) -> Iterator[Span]:
    """The spans of one export, in order."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == PROTOBUF:
        return _protobuf_spans(body)
    if kind == JSON:
        return _json_spans(body)
    raise InvalidTraces(f"content type {content_type!r}: OTLP/HTTP is {PROTOBUF} or {JSON}")


# -- protobuf -------------------------------------------------------------------------------------


def _protobuf_spans(body: bytes) -> Iterator[Span]:
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
                yield Span(
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.name,
                    span.end_time_unix_nano,
                    {kv.key: _pb_value(kv.value) for kv in span.attributes},
                    resource,
                    scope_spans.scope.name,
                )


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


# -- JSON -----------------------------------------------------------------------------------------


def _json_spans(body: bytes) -> Iterator[Span]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidTraces(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidTraces('an OTLP JSON export is {"resourceSpans": [...]}')
    for resource_spans in _list(data, "resourceSpans", "resource_spans"):
        resource = _json_attributes(_dict(resource_spans, "resource"))
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            scope = str(_dict(scope_spans, "scope").get("name", ""))
            for span in _list(scope_spans, "spans"):
                yield _json_span(span, resource, scope)


def _json_span(span: dict[str, Any], resource: dict[str, Any], scope: str) -> Span:
    name = str(span.get("name", ""))
    raw_ids = span.get("traceId", span.get("trace_id", "")), span.get("spanId", span.get("span_id", ""))
    try:
        trace_id, span_id = (_json_id(raw) for raw in raw_ids)
        end = int(span.get("endTimeUnixNano", span.get("end_time_unix_nano", 0)) or 0)
        attributes = _json_attributes(span)
    except (TypeError, ValueError) as exc:
        return Span(str(raw_ids[0]), str(raw_ids[1]), name, 0, {}, resource, scope, error=str(exc))
    return Span(trace_id, span_id, name, end, attributes, resource, scope)


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
            raise ValueError(f"span or trace id {text!r} is neither hex nor base64") from None


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
