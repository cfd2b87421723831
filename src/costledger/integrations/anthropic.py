"""Anthropic: usage read from the SDK's Message, its streams and Message Batches results.

`record_anthropic(ledger_or_session, message, agent="scholar")` records one response;
`instrument(client, ledger_or_session, **fields)` records every Messages API call a
sync or async client (and every client derived from it) makes. The SDK is imported
by the caller, never here, so costledger works without it.

Anthropic's `usage.input_tokens` counts only the prompt tokens after the last cache
breakpoint: the cache reads and writes are billed beside it, never inside it. So the
prompt is always input + cache_creation + cache_read, whatever their sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._recording import Recorder, count, field, nonzero, record_safely, stable_id, with_fields

Client = TypeVar("Client")
R = TypeVar("R")


def usage_meters(usage: Any) -> dict[str, int]:
    """costledger meters from an Anthropic `Usage` (or its JSON).

    `input_tokens` = input + cache writes + cache reads (Anthropic reports them apart);
    the writes split into 5-minute and 1-hour ones from `cache_creation`;
    `server_tool_use.web_search_requests` are the billed searches; thinking tokens are
    the reasoning part of the output.
    """
    read = count(usage, "cache_read_input_tokens")
    written = count(usage, "cache_creation_input_tokens")
    written_5m = count(usage, "cache_creation", "ephemeral_5m_input_tokens")
    written_1h = count(usage, "cache_creation", "ephemeral_1h_input_tokens")
    # cache_creation_input_tokens is the sum of the breakdown; a reply may give only one of them.
    written = max(written, written_5m + written_1h)
    return nonzero(
        {
            "input_tokens": count(usage, "input_tokens") + written + read,
            "cache_read_tokens": read,
            "cache_write_tokens": written,
            "cache_write_5m_tokens": written_5m,
            "cache_write_1h_tokens": written_1h,
            "output_tokens": count(usage, "output_tokens"),
            "output_reasoning_tokens": count(usage, "output_tokens_details", "thinking_tokens"),
            # Billed per server-side search request, not per tool_use block in the content.
            "web_searches": count(usage, "server_tool_use", "web_search_requests"),
        }
    ) or {"input_tokens": 0}


def service_tier(usage: Any, batch: bool = False) -> str | None:
    """The price variant the call was billed at: batch, fast (fast mode), priority or standard."""
    if batch:
        return "batch"
    if field(usage, "speed") == "fast":
        return "fast"
    tier = field(usage, "service_tier")
    return str(tier) if tier else None


def message_event(message: Any, *, batch: bool = False, **fields: Any) -> dict[str, Any]:
    """The usage event of one `Message` (or its JSON), or of one Message Batches result.

    A batch result (`MessageBatchIndividualResponse`), `batch=True` or a message billed
    on the batch tier is priced at the batch tier's prices.
    """
    custom_id = field(message, "custom_id")
    if custom_id is not None:
        result = field(message, "result")
        if field(result, "type") != "succeeded":
            raise ValueError(f"batch request {custom_id!r} did not succeed ({field(result, 'type')}): nothing billed")
        message, batch = field(result, "message"), True
    usage = field(message, "usage")
    if usage is None:
        raise ValueError("this Anthropic response carries no usage")
    metadata: dict[str, Any] = {"stop_reason": field(message, "stop_reason")}
    if custom_id is not None:
        metadata["custom_id"] = custom_id
    event: dict[str, Any] = {
        "event_id": stable_id("anthropic", field(message, "id")),
        "service": "anthropic",
        "model": field(message, "model"),
        "operation": "llm_completion",
        "usage": usage_meters(usage),
        "metadata": metadata,
    }
    tier = service_tier(usage, batch)
    if tier:
        event["service_tier"] = tier
    return with_fields(event, fields)


def record_anthropic(target: Recorder[R], response: Any, *, batch: bool = False, **fields: Any) -> R:
    """Record one Anthropic response (Message, its JSON, or a batch result) into a Ledger or Session."""
    return target.record(message_event(response, batch=batch, **fields))


# -- every call of a client -----------------------------------------------------------------------


class _MessageCall:
    """One Messages API response: a Message, or the events of its stream (usage cumulative in message_delta)."""

    def __init__(self, target: Recorder[Any], fields: Mapping[str, Any]) -> None:
        self.target = target
        self.fields = fields
        self.message: dict[str, Any] | None = None
        self.recorded = False

    def json(self, body: Any) -> None:
        if isinstance(body, dict) and body.get("type") == "message":
            self.message = body

    def event(self, name: str, data: Any) -> None:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "message_start" and isinstance(data.get("message"), dict):
            self.message = data["message"]
        elif kind == "message_delta" and self.message is not None:
            # message_delta carries the running totals: they replace message_start's placeholders.
            self.message["usage"] = _merged(self.message.get("usage") or {}, data.get("usage") or {})
            self.message["stop_reason"] = (data.get("delta") or {}).get("stop_reason")
        elif kind == "message_stop":
            self.done()

    def done(self) -> None:
        if self.recorded or self.message is None or self.message.get("usage") is None:
            return
        self.recorded = True
        record_safely(self.target, [message_event(self.message, **self.fields)])


def _merged(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        elif value is not None:
            merged[key] = value
    return merged


def instrument(client: Client, target: Recorder[Any], **fields: Any) -> Client:
    """Record the usage of every Messages API call of `client` (sync or async), whatever the call path.

    `messages.create` (streamed or not), `messages.stream`, `messages.parse`,
    `beta.messages.…`, `with_raw_response` / `with_streaming_response`, and the clients
    `client.with_options(...)` derives (they share its HTTP client) all record once, by
    message id. `fields` (agent=, user_id=, …) go on every event. Returns the same client.
    """
    from ._http import instrument_http

    def reader(request: Any, response: Any) -> _MessageCall | None:
        path = request.url.path.rstrip("/")
        if request.method != "POST" or not path.endswith("/messages"):
            return None  # count_tokens, batches, models… are not billed as messages
        return _MessageCall(target, fields)

    instrument_http(client._client, reader)  # type: ignore[attr-defined]  # the SDK's httpx2 client
    return client


__all__ = ["instrument", "message_event", "record_anthropic", "service_tier", "usage_meters"]
