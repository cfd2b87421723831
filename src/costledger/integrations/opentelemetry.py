"""OpenTelemetry: model-call spans, as OTLP/HTTP sends them, become usage events.

`read_otlp(body, content_type)` reads an `ExportTraceServiceRequest` in protobuf
(`application/x-protobuf`) or OTLP JSON (`application/json`): one event per model
call, and the spans it rejected with their reasons. It reads the attribute names of
the tools people already run: the GenAI semantic conventions (the Anthropic SDK's own
spans, OpenLLMetry's `opentelemetry-instrumentation-*`) and OpenInference's
`llm.token_count.*`. Their `input_tokens` / `llm.token_count.prompt` count the whole
prompt, cached parts included (semantic conventions); a span whose parts exceed it is
rejected, never guessed at.

One call, one event, whatever the sources: the event id is the provider's response id
(`gen_ai.response.id`, or the id in OpenInference's JSON `output.value`), as
`instrument()` and `record_anthropic()` / `record_openai()` write it, so the SDK's own
span, OpenLLMetry, OpenInference and an instrumented client dedupe to one event. The
first recorded wins; within one export the spans of one call merge, each meter taken
from the most trusted source that reports it (the provider's SDK, then OpenLLMetry,
then OpenInference). A span without a response id is `otel:<trace id>:<span id>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._otlp import JSON, PROTOBUF, InvalidTraces, Span, spans
from ._recording import iso, nonzero, stable_id

# Provider names of the GenAI semantic conventions and OpenInference → costledger service names.
SERVICES = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "azure": "azure",
    "aws.bedrock": "bedrock",
    "aws": "bedrock",
    "x_ai": "xai",
    "mistral_ai": "mistral",
}
# These spans sum up the model calls under them; counting both would count twice.
AGGREGATE_OPERATIONS = frozenset({"invoke_agent", "create_agent", "execute_tool", "invoke_workflow"})
MODEL_CALL_KINDS = frozenset({"LLM", "EMBEDDING"})  # openinference.span.kind of a billed call

# Each meter with the attributes that report it, in the order they are trusted.
METERS: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "cache_write_5m_tokens": ("anthropic.usage.cache_creation.ephemeral_5m_input_tokens",),
    "cache_write_1h_tokens": ("anthropic.usage.cache_creation.ephemeral_1h_input_tokens",),
    "input_audio_tokens": ("llm.token_count.prompt_details.audio",),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
    "output_audio_tokens": ("llm.token_count.completion_details.audio",),
    "output_reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
}
# A span with one of these reports a model call's usage.
USAGE_KEYS = frozenset((*METERS["input_tokens"], *METERS["output_tokens"]))
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL = ("gen_ai.response.model", "llm.response.model_name", "gen_ai.request.model", "llm.model_name",
         "llm.request.model_name")  # fmt: skip
TIER = ("anthropic.response.service_tier", "openai.response.service_tier", "gen_ai.openai.response.service_tier")
SESSION = ("gen_ai.conversation.id", "session.id", "costledger.session_id")
DIMENSIONS = {
    "user_id": ("user.id", "enduser.id", "costledger.user_id"),
    "agent": ("gen_ai.agent.name", "costledger.agent"),
    "tier": ("costledger.tier",),
    "mode": ("costledger.mode",),
    "endpoint": ("costledger.endpoint", "http.route"),
}
# Which instrumentation knows best, by its scope name's start (lower is trusted more).
SOURCES = (("com.anthropic.", 0), ("openai", 0), ("opentelemetry.instrumentation.", 1), ("openinference.", 2))
_TIERS = {"default": "standard"}  # OpenAI's name for standard processing


@dataclass
class Export:
    """What one OTLP export held: the usage events, and a reason for each span rejected."""

    events: list[dict[str, Any]]
    rejected: list[str]


def read_otlp(body: bytes, content_type: str) -> Export:
    """The usage events in one OTLP/HTTP trace export (protobuf or JSON), and the spans it rejects."""
    calls: dict[str, tuple[int, dict[str, Any]]] = {}
    rejected: list[str] = []
    try:
        for span in spans(body, content_type):
            try:
                found = span_event(span)
            except ValueError as exc:
                rejected.append(f"span {span.span_id or span.name!r}: {exc}")
                continue
            if found is not None:
                _merge(calls, _rank(span.scope), found)
    except InvalidTraces:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidTraces(f"malformed OTLP trace export ({exc})") from None
    return Export([event for _, event in calls.values()], rejected)


def events_from_otlp(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The usage events in one OTLP/HTTP trace export (the spans it cannot read are left out)."""
    return read_otlp(body, content_type).events


def _rank(scope: str) -> int:
    return next((rank for start, rank in SOURCES if scope.startswith(start)), 3)


def _merge(calls: dict[str, tuple[int, dict[str, Any]]], rank: int, event: dict[str, Any]) -> None:
    """Spans of one call (same response id) become one event; each meter from the most trusted span."""
    seen = calls.get(event["event_id"])
    if seen is None:
        calls[event["event_id"]] = rank, event
        return
    best, other = (event, seen[1]) if rank < seen[0] else (seen[1], event)
    best["usage"] = {**other["usage"], **best["usage"]}
    for name, value in other.items():
        best.setdefault(name, value)
    calls[event["event_id"]] = min(rank, seen[0]), best


def span_event(span: Span) -> dict[str, Any] | None:
    """The usage event of one span, None for a span that is not a model call; ValueError for a bad one."""
    if span.error:
        raise ValueError(span.error)
    attrs = span.attributes
    if not any(key in attrs for key in USAGE_KEYS):
        return None
    if _first(attrs, ("gen_ai.operation.name",)) in AGGREGATE_OPERATIONS:
        return None
    kind = _first(attrs, ("openinference.span.kind",))
    if kind is not None and str(kind).upper() not in MODEL_CALL_KINDS:
        return None
    provider = _first(attrs, PROVIDER)
    service = SERVICES.get(str(provider).lower(), str(provider).lower()) if provider else "unknown"
    usage = nonzero({meter: _count(attrs, keys) for meter, keys in METERS.items()}) or {"input_tokens": 0}
    searches = _web_searches(attrs)
    if searches:
        usage["web_searches"] = searches
    response_id = _first(attrs, ("gen_ai.response.id",)) or _output_id(attrs)
    event: dict[str, Any] = {
        "event_id": stable_id(service, response_id) if response_id else f"otel:{span.trace_id}:{span.span_id}",
        "service": service,
        "model": _first(attrs, MODEL),
        "operation": _first(attrs, ("gen_ai.operation.name",)) or "llm_completion",
        "usage": usage,
        "metadata": {"trace_id": span.trace_id, "span_id": span.span_id, "span": span.name, "source": span.scope},
    }
    tier = _first(attrs, TIER)
    if tier:
        event["service_tier"] = _TIERS.get(str(tier), str(tier))
    if span.end_ns:
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


def _first(attrs: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    return None


def _count(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        value = attrs.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{key} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{key} must be a whole number, not {value!r}") from None
        if number < 0 or number != float(value):
            raise ValueError(f"{key} must be a whole number, not {value!r}")
        return number
    return 0


def _json_attribute(attrs: Mapping[str, Any], key: str) -> Any:
    value = attrs.get(key)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _output_id(attrs: Mapping[str, Any]) -> str | None:
    """OpenInference keeps the response (its id too) as JSON in `output.value`."""
    if attrs.get("output.mime_type") != JSON:
        return None
    output = _json_attribute(attrs, "output.value")
    response_id = output.get("id") if isinstance(output, dict) else None
    return str(response_id) if response_id else None


def _web_searches(attrs: Mapping[str, Any]) -> int:
    """Server-side web searches: OpenInference's Anthropic spans keep `server_tool_use` in `metadata`."""
    metadata = _json_attribute(attrs, "metadata")
    server_tools = metadata.get("server_tool_use") if isinstance(metadata, dict) else None
    count = server_tools.get("web_search_requests") if isinstance(server_tools, dict) else None
    return count if isinstance(count, int) and count > 0 else 0


__all__ = ["JSON", "PROTOBUF", "Export", "InvalidTraces", "events_from_otlp", "read_otlp", "span_event"]
