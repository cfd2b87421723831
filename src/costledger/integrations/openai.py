"""OpenAI: usage read from Chat Completions and Responses, streamed or not.

`record_openai(ledger_or_session, response, agent="aria")` records one response;
`instrument(client, ledger_or_session, **fields)` records every
`chat.completions.create` and `responses.create` of a sync or async client,
asking streamed chat completions to include their usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
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


def usage_meters(response: Any) -> dict[str, int]:
    """costledger meters of a ChatCompletion (`prompt_tokens`) or a Response (`input_tokens`).

    OpenAI's prompt count already includes the cached (read and written) tokens, as costledger's does.
    """
    usage = field(response, "usage")
    if usage is None:
        raise ValueError("this OpenAI response carries no usage (stream with stream_options={'include_usage': True})")
    if field(usage, "prompt_tokens") is not None:
        prompt, output = int(field(usage, "prompt_tokens", 0)), int(field(usage, "completion_tokens", 0))
        details = field(usage, "prompt_tokens_details")
    else:
        prompt, output = int(field(usage, "input_tokens", 0)), int(field(usage, "output_tokens", 0))
        details = field(usage, "input_tokens_details")
    cached, written = int(field(details, "cached_tokens", 0)), int(field(details, "cache_write_tokens", 0))
    meters = {**tokens_with_cache(prompt, cached, written), "output_tokens": output}
    # The Responses API bills each web search call it made on the model's behalf.
    searches = sum(1 for item in field(response, "output", []) or [] if field(item, "type") == "web_search_call")
    if searches:
        meters["web_searches"] = searches
    return meters


def response_event(response: Any, *, batch: bool = False, target: object = None, **fields: Any) -> dict[str, Any]:
    """The usage event of one ChatCompletion, final chunk with usage, or Response (or their JSON)."""
    tier = field(response, "service_tier")
    event: dict[str, Any] = {
        "event_id": stable_id("openai", field(response, "id")),
        "service": "openai",
        "model": field(response, "model"),
        "operation": "llm_completion",
        "usage": usage_meters(response),
        **fields,
    }
    metadata = {"object": field(response, "object")}
    if tier:
        metadata["service_tier"] = tier
    event["metadata"] = {**metadata, **fields.get("metadata", {})}
    if batch and "cost_usd" not in fields:
        apply_batch_discount(event, catalog_of(target))
    return event


def record_openai(target: Recorder[R], response: Any, *, batch: bool = False, **fields: Any) -> R:
    """Record one OpenAI response into a Ledger or Session; `batch=True` for Batch API results."""
    return target.record(response_event(response, batch=batch, target=target, **fields))


def _final(item: Any) -> Any:
    """The object carrying the usage in a stream: the chat chunk with usage, or the finished Response."""
    if field(item, "object") == "chat.completion.chunk":
        return item if field(item, "usage") is not None else None
    if field(item, "type") in ("response.completed", "response.incomplete", "response.failed"):
        response = field(item, "response")
        return response if field(response, "usage") is not None else None
    return None


class _RecordingStream:
    """The SDK's Stream, passed through item by item; the one with the usage is recorded."""

    def __init__(self, stream: Any, save: Callable[[Any], object]) -> None:
        self._stream = stream
        self._save = save

    def _see(self, item: Any) -> Any:
        final = _final(item)
        if final is not None:
            self._save(final)
        return item

    def __iter__(self) -> Iterator[Any]:
        for item in self._stream:
            yield self._see(item)

    def __next__(self) -> Any:
        return self._see(next(self._stream))

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._stream:
            yield self._see(item)

    async def __anext__(self) -> Any:
        return self._see(await self._stream.__anext__())

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._stream.__exit__(*exc)

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self._stream.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def instrument(client: Client, target: Recorder[Any], *, batch: bool = False, **fields: Any) -> Client:
    """Record the usage of every chat completion and response `client` (sync or async) creates.

    A streamed chat completion is asked for its usage (`stream_options.include_usage`)
    unless the caller set stream_options; without usage nothing can be priced.
    """
    if getattr(client, "_costledger_instrumented", False):
        return client

    def save(response: Any) -> None:
        record_openai(target, response, batch=batch, **fields)

    def wrap(result: Any) -> Any:
        if field(result, "usage") is not None:
            save(result)
            return result
        if hasattr(result, "__aiter__") or hasattr(result, "__iter__"):
            return _RecordingStream(result, save)
        return result

    def ask_usage(kwargs: dict[str, Any]) -> None:
        # A streamed chat completion reports usage only when asked to.
        if kwargs.get("stream") and "stream_options" not in kwargs:
            kwargs["stream_options"] = {"include_usage": True}

    chat = client.chat.completions  # type: ignore[attr-defined]
    chat.create = recording_call(chat.create, wrap, prepare=ask_usage)
    responses = client.responses  # type: ignore[attr-defined]
    responses.create = recording_call(responses.create, wrap)
    client._costledger_instrumented = True  # type: ignore[attr-defined]
    return client


__all__ = ["instrument", "record_openai", "response_event", "usage_meters"]
