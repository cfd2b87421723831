"""OpenAI Realtime: each response's usage (text, audio and cached input; text and audio output) and each
input-audio transcription's, from the server events of a Realtime connection.

    with client.realtime.connect(model="gpt-realtime") as connection:
        record_realtime(connection, session, agent="receptionist")
        for event in connection: ...

(`costledger.integrations.openai.instrument(client, …)` does it for every connection
the client opens.) A `response.done` is one event, id = the response's; an
`conversation.item.input_audio_transcription.completed` another, billed by tokens or by
duration. The model is the session's (`session.created` / `session.updated`), and the
transcription model its input-audio transcription setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._recording import Recorder, field, record_safely
from .openai import response_event

Connection = TypeVar("Connection")
TRANSCRIBED = "conversation.item.input_audio_transcription.completed"


class RealtimeUsage:
    """Follows a Realtime session's server events and records the billed ones into `target`."""

    def __init__(self, target: Recorder[Any], *, model: str | None = None, **fields: Any) -> None:
        self.target = target
        self.model = model
        self.transcription_model: str | None = None
        self.fields = fields

    def observe(self, event: Any) -> None:
        """One server event (the SDK's object or its JSON); records it when it is billed."""
        found = self.event(event)
        if found is not None:
            record_safely(self.target, [found])

    def event(self, server_event: Any) -> dict[str, Any] | None:
        kind = field(server_event, "type")
        if kind in ("session.created", "session.updated"):
            self._session(field(server_event, "session"))
        elif kind == "response.done":
            response = field(server_event, "response")
            if field(response, "usage") is not None:
                body = {"id": field(response, "id"), "model": self.model, "usage": field(response, "usage")}
                return response_event(body, operation="realtime", **self.fields)
        elif kind == TRANSCRIBED and field(server_event, "usage") is not None:
            item = field(server_event, "item_id"), "transcription", field(server_event, "content_index", 0)
            body = {"id": ":".join(str(part) for part in item), "model": self.transcription_model,
                    "usage": field(server_event, "usage")}  # fmt: skip
            return response_event(body, operation="stt", **self.fields)
        return None

    def _session(self, session: Any) -> None:
        self.model = field(session, "model", self.model)
        # GA sessions keep it in audio.input.transcription, beta ones in input_audio_transcription.
        transcription = field(field(field(session, "audio"), "input"), "transcription") or field(
            session, "input_audio_transcription"
        )
        self.transcription_model = field(transcription, "model", self.transcription_model)


def record_realtime(connection: Connection, target: Recorder[Any], **fields: Any) -> Connection:
    """Record the billed server events of an OpenAI SDK Realtime connection (sync or async) as it reads them.

    Every event the connection parses (`recv()`, iteration) passes through; the connection is returned.
    """
    usage = RealtimeUsage(target, **fields)
    parse = connection.parse_event  # type: ignore[attr-defined]

    def parse_event(data: str | bytes) -> Any:
        event = parse(data)
        usage.observe(event)
        return event

    connection.parse_event = parse_event  # type: ignore[attr-defined]
    return connection


class _Manager:
    """`client.realtime.connect(...)`: the SDK's manager, whose connection records its usage."""

    def __init__(self, manager: Any, target: Recorder[Any], fields: Mapping[str, Any]) -> None:
        self._manager = manager
        self._target = target
        self._fields = dict(fields)

    def __enter__(self) -> Any:
        return record_realtime(self._manager.__enter__(), self._target, **self._fields)

    def __exit__(self, *exc: object) -> Any:
        return self._manager.__exit__(*exc)

    async def __aenter__(self) -> Any:
        return record_realtime(await self._manager.__aenter__(), self._target, **self._fields)

    async def __aexit__(self, *exc: object) -> Any:
        return await self._manager.__aexit__(*exc)

    async def enter(self) -> Any:
        return await self.__aenter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


def instrument_realtime(client: Any, target: Recorder[Any], fields: Mapping[str, Any]) -> None:
    """Make every `client.realtime.connect(...)` connection record its usage."""
    realtime: Any = getattr(client, "realtime", None)
    connect = getattr(realtime, "connect", None)
    if connect is None:
        return

    def recording_connect(*args: Any, **kwargs: Any) -> _Manager:
        extra = {"model": kwargs["model"]} if kwargs.get("model") else {}
        return _Manager(connect(*args, **kwargs), target, {**fields, **extra})

    realtime.connect = recording_connect


__all__ = ["RealtimeUsage", "instrument_realtime", "record_realtime"]
