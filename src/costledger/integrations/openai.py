"""OpenAI: usage read from Chat Completions, Responses, audio and embeddings, streamed or not.

`record_openai(ledger_or_session, response, agent="aria")` records one response;
`instrument(client, ledger_or_session, **fields)` records every billed call a sync
or async client (and every client derived from it) makes, asking streamed chat
completions to include their usage.

OpenAI's prompt count already includes its cached, audio and image parts, as
costledger's `input_tokens` does; its completion count includes reasoning and audio.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

from ..events import new_event_id
from ._recording import (
    Recorder,
    count,
    field,
    log,
    nonzero,
    record_safely,
    request_json,
    stable_id,
    with_fields,
)

Client = TypeVar("Client")
R = TypeVar("R")

# OpenAI calls standard processing "default" (and "auto" resolves to one of the others).
TIERS = {"default": "standard"}


def usage_meters(response: Any) -> dict[str, Any]:
    """costledger meters of an OpenAI response, or of its `usage` (or their JSON).

    Reads every usage shape OpenAI returns: Chat Completions (`prompt_tokens`…),
    Responses, Realtime and transcription (`input_tokens`, `input_token(s)_details`),
    embeddings, speech, and duration-billed transcription (`seconds`).
    """
    usage = field(response, "usage", response)
    if field(usage, "type") == "duration":  # whisper-1 and other per-minute transcription
        return {"audio_seconds": _seconds(field(usage, "seconds", 0))}
    details = _first(usage, "prompt_tokens_details", "input_tokens_details", "input_token_details")
    cached = _first(details, "cached_tokens_details")
    out = _first(usage, "completion_tokens_details", "output_tokens_details", "output_token_details")
    meters = nonzero(
        {
            "input_tokens": count(usage, "prompt_tokens") or count(usage, "input_tokens"),
            "cache_read_tokens": count(details, "cached_tokens"),
            "cache_write_tokens": count(details, "cache_write_tokens"),
            "input_audio_tokens": count(details, "audio_tokens"),
            "cache_audio_read_tokens": count(cached, "audio_tokens"),
            "input_image_tokens": count(details, "image_tokens"),
            "cache_image_read_tokens": count(cached, "image_tokens"),
            "output_tokens": count(usage, "completion_tokens") or count(usage, "output_tokens"),
            "output_audio_tokens": count(out, "audio_tokens"),
            "output_reasoning_tokens": count(out, "reasoning_tokens"),
        }
    )
    # The Responses API bills each web search call it made on the model's behalf.
    searches = sum(1 for item in field(response, "output", []) or [] if field(item, "type") == "web_search_call")
    if searches:
        meters["web_searches"] = searches
    return meters or {"input_tokens": 0}


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = field(obj, name)
        if value is not None:
            return value
    return None


def _seconds(value: Any) -> Any:
    from decimal import Decimal

    return Decimal(str(value))


def service_tier(response: Any, batch: bool = False) -> str | None:
    """The price variant of the call: batch, or the `service_tier` the response reports (default → standard)."""
    if batch:
        return "batch"
    tier = field(response, "service_tier")
    return TIERS.get(str(tier), str(tier)) if tier else None


def response_event(
    response: Any, *, batch: bool = False, operation: str = "llm_completion", **fields: Any
) -> dict[str, Any]:
    """The usage event of one ChatCompletion, final chunk, Response, transcription… (or their JSON)."""
    if field(response, "usage") is None:
        raise ValueError(
            "this OpenAI response carries no usage (a streamed chat completion needs "
            "stream_options={'include_usage': True})"
        )
    event: dict[str, Any] = {
        "event_id": stable_id("openai", field(response, "id") or new_event_id()),
        "service": "openai",
        "model": field(response, "model"),
        "operation": operation,
        "usage": usage_meters(response),
        "metadata": {"object": field(response, "object")},
    }
    tier = service_tier(response, batch)
    if tier:
        event["service_tier"] = tier
    return with_fields(event, fields)


def record_openai(target: Recorder[R], response: Any, *, batch: bool = False, **fields: Any) -> R:
    """Record one OpenAI response into a Ledger or Session; `batch=True` for Batch API results."""
    return target.record(response_event(response, batch=batch, **fields))


# -- every call of a client -----------------------------------------------------------------------

# Path endings of the billed endpoints → the operation recorded.
OPERATIONS = {
    "/chat/completions": "llm_completion",
    "/responses": "llm_completion",
    "/completions": "llm_completion",
    "/embeddings": "embedding",
    "/audio/transcriptions": "stt",
    "/audio/translations": "stt",
    "/audio/speech": "tts",
}
# Stream events whose payload is the whole Response, usage included.
_FINAL_RESPONSE = ("response.completed", "response.incomplete", "response.failed")


class _Call:
    """One billed response: its JSON body, or the events of its stream, the last usage seen winning.

    OpenAI-compatible servers that send running usage on every chunk are counted by
    their last chunk, the cumulative one; OpenAI itself sends it once, at the end.
    """

    def __init__(self, instrumented: _Instrumented, request: dict[str, Any], operation: str, request_id: str) -> None:
        self.instrumented = instrumented
        self.request = request
        self.operation = operation
        self.request_id = request_id
        self.final: dict[str, Any] | None = None
        self.streamed = False
        self.recorded = False

    def json(self, body: Any) -> None:
        if isinstance(body, dict) and body.get("usage") is not None:
            self.final = body

    def event(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        self.streamed = True
        if (data.get("type") or name) in _FINAL_RESPONSE and isinstance(data.get("response"), dict):
            self.final = data["response"]
        elif data.get("usage") is not None:  # a chat chunk, transcript.text.done, speech.audio.done
            self.final = data

    def done(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        if self.final is not None:
            body = {**self.final, "model": self.final.get("model") or self.request.get("model")}
            body["id"] = body.get("id") or self.request_id
            event = response_event(body, operation=self.operation, **self.instrumented.fields)
            if self.operation == "tts":  # speech.audio.done: its output tokens are audio
                event["usage"]["output_audio_tokens"] = event["usage"].get("output_tokens", 0)
        elif self.operation == "tts" and not self.streamed:
            event = self._characters()
        else:
            opted_out = (self.request.get("stream_options") or {}).get("include_usage") is False
            if self.streamed and not opted_out:  # an opt-out was warned about when it was sent
                self.instrumented.warn_once(
                    "no-usage",
                    "an OpenAI stream ended without usage, so it was not recorded: a chat completion needs "
                    "stream_options={'include_usage': True}; a server that ignores it cannot be priced",
                )
            return
        record_safely(self.instrumented.target, [event])

    def _characters(self) -> dict[str, Any]:
        """Speech returned as audio carries no usage: tts-1 and tts-1-hd bill the characters of `input`.

        gpt-4o-mini-tts bills tokens, which only a `stream_format="sse"` reply reports:
        without them its event is unpriced (for want of a characters price), never guessed.
        """
        event = response_event(
            {"id": self.request_id, "model": self.request.get("model"), "usage": {}},
            operation="tts",
            **self.instrumented.fields,
        )
        event["usage"] = {"characters": len(str(self.request.get("input", "")))}
        return event


class _Instrumented:
    """An instrumented client's target and fields, its warnings (each logged once), and its hooks."""

    def __init__(self, target: Recorder[Any], fields: Mapping[str, Any]) -> None:
        self.target = target
        self.fields = fields
        self.warned: set[str] = set()
        # The text fields of multipart uploads (the model of a transcription), read before they are sent.
        self.forms: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning("costledger: %s", message)

    def reader(self, request: Any, response: Any) -> _Call | None:
        operation = _operation(request)
        if operation is None:
            return None
        body = self.forms.pop(request, {}) if operation == "stt" else request_json(request)
        request_id = response.headers.get("x-request-id") or new_event_id()
        return _Call(self, body, operation, f"req:{request_id}")

    def prepare(self, request: Any) -> None:
        operation = _operation(request)
        if operation == "stt":
            self.forms[request] = _form(request)
        elif operation == "llm_completion" and request.url.path.rstrip("/").endswith("/chat/completions"):
            self._ask_usage(request)

    def _ask_usage(self, request: Any) -> None:
        """A streamed chat completion reports usage only when asked to: ask for it."""
        body = request_json(request)
        if not body.get("stream"):
            return
        options = body.get("stream_options") or {}
        if options.get("include_usage") is False:
            self.warn_once(
                "include_usage",
                "a streamed chat completion set stream_options={'include_usage': False}: it carries no usage "
                "and is not recorded; drop it or set include_usage to True",
            )
        elif options.get("include_usage") is not True:
            body["stream_options"] = {**options, "include_usage": True}
            _replace_json(request, body)


def _operation(request: Any) -> str | None:
    if request.method != "POST":
        return None
    path = request.url.path.rstrip("/")
    return next((op for end, op in OPERATIONS.items() if path.endswith(end)), None)


def _replace_json(request: Any, body: dict[str, Any]) -> None:
    import importlib

    # httpx2, or the legacy httpx of a client given one: the request's own library.
    library = importlib.import_module(type(request).__module__.split(".")[0])
    content = json.dumps(body, separators=(",", ":")).encode()
    request.stream = library.ByteStream(content)
    request.headers["Content-Length"] = str(len(content))
    # httpx2 keeps the body it read in `_content`: read it anew from the new stream.
    vars(request).pop("_content", None)
    request.read()


def _form(request: Any) -> dict[str, Any]:
    """The text fields of a multipart upload (an audio file and its `model`), read with the stdlib parser.

    Reading the body here keeps it in memory for the send (httpx2 replays what it read).
    """
    content = request.read()
    header = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + content)
    fields: dict[str, Any] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if name and not part.get_filename():
            fields[str(name)] = part.get_content().strip()
    return fields


def instrument(client: Client, target: Recorder[Any], **fields: Any) -> Client:
    """Record the usage of every billed call `client` (sync or async) makes, whatever the call path.

    `chat.completions.create` / `.parse` / `.stream()`, `responses.create` / `.parse` /
    `.stream()`, audio transcriptions, translations and speech, embeddings, their
    `with_raw_response` / `with_streaming_response` forms, and the clients
    `client.with_options(...)` derives (they share its HTTP client). A streamed chat
    completion is asked for its usage (`stream_options.include_usage`); one that opts
    out, or a stream that ends without usage, logs one warning naming the fix.
    Realtime connections the client opens (`client.realtime.connect`) record each
    response's and transcription's usage (see `openai_realtime`).
    `fields` (agent=, user_id=, …) go on every event. Returns the same client.
    """
    from ._http import instrument_http
    from .openai_realtime import instrument_realtime

    instrumented = _Instrumented(target, fields)
    instrument_http(client._client, instrumented.reader, prepare=instrumented.prepare)  # type: ignore[attr-defined]
    instrument_realtime(client, target, fields)
    return client


__all__ = ["instrument", "record_openai", "response_event", "service_tier", "usage_meters"]
