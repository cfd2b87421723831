"""Anthropic: usage read from the SDK's Message, streams and Message Batches results.

`record_anthropic(ledger_or_session, message, agent="scholar")` records one response;
`instrument(client, ledger_or_session, **fields)` records every `messages.create`
and streamed message of a sync or async client. The SDK is imported by the caller,
never here, so costledger works without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from ._recording import (
    Recorder,
    apply_batch_discount,
    catalog_of,
    field,
    recording_call,
    stable_id,
    tokens_with_cache,
)

Client = TypeVar("Client")
R = TypeVar("R")


def usage_meters(usage: Any) -> dict[str, int]:
    """costledger meters from an Anthropic `Usage`, where `input_tokens` excludes the cache."""
    meters = tokens_with_cache(
        int(field(usage, "input_tokens", 0)),
        int(field(usage, "cache_read_input_tokens", 0)),
        int(field(usage, "cache_creation_input_tokens", 0)),
    )
    # Billed per server-side search request, not per tool_use block in the content.
    searches = int(field(field(usage, "server_tool_use"), "web_search_requests", 0))
    meters["output_tokens"] = int(field(usage, "output_tokens", 0))
    if searches:
        meters["web_searches"] = searches
    return meters


def message_event(message: Any, *, batch: bool = False, target: object = None, **fields: Any) -> dict[str, Any]:
    """The usage event of one `Message` (or its JSON), or of one Message Batches result.

    A batch result (`MessageBatchIndividualResponse`) or a message billed on the
    batch tier is priced at the batch discount.
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
    tier = field(usage, "service_tier")
    batch = batch or tier == "batch"
    metadata: dict[str, Any] = {"stop_reason": field(message, "stop_reason")}
    if tier:
        metadata["service_tier"] = tier
    if custom_id is not None:
        metadata["custom_id"] = custom_id
    event: dict[str, Any] = {
        "event_id": stable_id("anthropic", field(message, "id")),
        "service": "anthropic",
        "model": field(message, "model"),
        "operation": "llm_completion",
        "usage": usage_meters(usage),
        **fields,
    }
    event["metadata"] = {**metadata, **fields.get("metadata", {})}
    if batch and "cost_usd" not in fields:
        apply_batch_discount(event, catalog_of(target))
    return event


def record_anthropic(target: Recorder[R], response: Any, *, batch: bool = False, **fields: Any) -> R:
    """Record one Anthropic response (Message, its JSON, or a batch result) into a Ledger or Session."""
    return target.record(message_event(response, batch=batch, target=target, **fields))


# -- streams --------------------------------------------------------------------------------------


class _StreamUsage:
    """Usage accumulated from raw stream events: message_start, then cumulative message_delta."""

    def __init__(self, record: Callable[[dict[str, Any]], object]) -> None:
        self._record = record
        self._message: dict[str, Any] | None = None
        self._usage: dict[str, Any] = {}
        self._done = False

    def feed(self, event: Any) -> None:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            self._message = {"id": field(message, "id"), "model": field(message, "model")}
            self._usage = _as_dict(field(message, "usage", {}))
        elif kind == "message_delta":
            self._usage.update({k: v for k, v in _as_dict(field(event, "usage", {})).items() if v is not None})
            if self._message is not None:
                self._message["stop_reason"] = field(field(event, "delta"), "stop_reason")
        elif kind == "message_stop":
            self.finish()

    def finish(self) -> None:
        # An abandoned stream was still billed for what it consumed: record what was seen.
        if self._done or self._message is None:
            return
        self._done = True
        self._record({**self._message, "usage": self._usage})


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    dump = getattr(obj, "model_dump", None)
    return dict(dump()) if dump is not None else {}


class _RecordingStream:
    """The SDK's `Stream`, passed through event by event while its usage is recorded."""

    def __init__(self, stream: Any, usage: _StreamUsage) -> None:
        self._stream = stream
        self._usage = usage

    def __iter__(self) -> Iterator[Any]:
        for event in self._stream:
            self._usage.feed(event)
            yield event
        self._usage.finish()

    def __next__(self) -> Any:
        try:
            event = next(self._stream)
        except StopIteration:
            self._usage.finish()
            raise
        self._usage.feed(event)
        return event

    def close(self) -> None:
        self._stream.close()
        self._usage.finish()

    def __enter__(self) -> _RecordingStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AsyncRecordingStream:
    def __init__(self, stream: Any, usage: _StreamUsage) -> None:
        self._stream = stream
        self._usage = usage

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for event in self._stream:
            self._usage.feed(event)
            yield event
        self._usage.finish()

    async def __anext__(self) -> Any:
        try:
            event = await self._stream.__anext__()
        except StopAsyncIteration:
            self._usage.finish()
            raise
        self._usage.feed(event)
        return event

    async def close(self) -> None:
        await self._stream.close()
        self._usage.finish()

    async def __aenter__(self) -> _AsyncRecordingStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _StreamManager:
    """`messages.stream(...)`: the SDK's MessageStream, reading from a recording raw stream."""

    def __init__(self, manager: Any, usage: _StreamUsage) -> None:
        self._manager = manager
        self._usage = usage

    def __enter__(self) -> Any:
        stream = self._manager.__enter__()
        # MessageStream reads `_raw_stream` lazily, on its first event.
        stream._raw_stream = _RecordingStream(stream._raw_stream, self._usage)
        return stream

    def __exit__(self, *exc: object) -> Any:
        return self._manager.__exit__(*exc)

    async def __aenter__(self) -> Any:
        stream = await self._manager.__aenter__()
        stream._raw_stream = _AsyncRecordingStream(stream._raw_stream, self._usage)
        return stream

    async def __aexit__(self, *exc: object) -> Any:
        return await self._manager.__aexit__(*exc)


def instrument(client: Client, target: Recorder[Any], *, batch: bool = False, **fields: Any) -> Client:
    """Record the usage of every `messages.create` and `messages.stream` of `client` (sync or async).

    `fields` (agent=, user_id=, …) go on every event. Returns the same client.
    A client derived later with `client.with_options(...)` is not instrumented.
    """
    messages: Any = client.messages  # type: ignore[attr-defined]
    if getattr(messages, "_costledger_instrumented", False):
        return client
    create, stream = messages.create, messages.stream

    def save(message: Any) -> None:
        record_anthropic(target, message, batch=batch, **fields)

    def wrap(result: Any) -> Any:
        if field(result, "usage") is not None:
            save(result)
            return result
        if hasattr(result, "__aiter__"):
            return _AsyncRecordingStream(result, _StreamUsage(save))
        if hasattr(result, "__iter__"):
            return _RecordingStream(result, _StreamUsage(save))
        return result

    messages.create = recording_call(create, wrap)
    messages.stream = lambda *args, **kwargs: _StreamManager(stream(*args, **kwargs), _StreamUsage(save))
    messages._costledger_instrumented = True
    return client


__all__ = ["instrument", "message_event", "record_anthropic", "usage_meters"]
