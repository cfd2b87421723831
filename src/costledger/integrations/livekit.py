"""LiveKit Agents (1.x): a voice session's model usage and room time, as priced events.

In an agent's entrypoint, one call:

    costledger.integrations.livekit.track(ctx, session, ledger, agent="scholar", user_id=…)

records, when the job shuts down, the session's usage (`AgentSession.usage`: one
`LLMModelUsage`, `STTModelUsage` or `TTSModelUsage` per provider and model) and the
room's participant-minutes, all under session id = the room's name.
`record_usage(...)` and `record_room(...)` do the same by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

from .. import clock
from ._recording import Recorder, field, stable_id, tokens_with_cache

R = TypeVar("R")

# Plugins name their provider by the API host ("api.openai.com"), or by name.
HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.deepgram.com": "deepgram",
    "api.cartesia.ai": "cartesia",
    "generativelanguage.googleapis.com": "google",
    "api.elevenlabs.io": "elevenlabs",
    "api.groq.com": "groq",
}


def service_and_model(provider: str, model: str) -> tuple[str, str | None]:
    """costledger's service and model for a LiveKit provider/model pair.

    LiveKit Inference reports provider "livekit" and models as "deepgram/nova-3".
    """
    provider = (provider or "").strip().lower()
    if provider in ("livekit", "") and "/" in model:
        provider, model = model.split("/", 1)
    provider = HOSTS.get(provider, provider)
    if "." in provider:  # another host: its second-level name (api.mistral.ai → mistral)
        parts = provider.split(".")
        provider = parts[-2] if len(parts) >= 2 else provider
    return provider or "unknown", model or None


def usage_events(usage: Any, **fields: Any) -> list[dict[str, Any]]:
    """One event per model with usage: `AgentSession.usage`, a `ModelUsageCollector`, or a list of ModelUsage.

    LLM tokens (cache reads and writes within the prompt), STT audio seconds or
    tokens, TTS characters (else tokens, else audio seconds). Turn-detection and
    interruption models run locally or are not billed per use: not recorded.
    """
    if hasattr(usage, "flatten"):
        usage = usage.flatten()
    models: Iterable[Any] = field(usage, "model_usage", usage)
    events = []
    for model_usage in models:
        kind = field(model_usage, "type")
        meters, operation = _meters(kind, model_usage)
        if not any(meters.values()):
            continue
        service, model = service_and_model(field(model_usage, "provider", ""), field(model_usage, "model", ""))
        event = {
            "event_id": stable_id("livekit", fields.get("session_id"), fields.get("agent"), kind, service, model),
            "service": service,
            "model": model,
            "operation": operation,
            "usage": {k: v for k, v in meters.items() if v},
            **fields,
        }
        event["metadata"] = {"livekit_provider": field(model_usage, "provider", ""), **fields.get("metadata", {})}
        events.append(event)
    return events


def _meters(kind: str | None, u: Any) -> tuple[dict[str, Any], str]:
    if kind == "llm_usage":
        meters: dict[str, Any] = tokens_with_cache(
            int(field(u, "input_tokens", 0)),
            int(field(u, "input_cached_tokens", 0)),
            int(field(u, "input_cache_creation_tokens", 0)),
        )
        meters["output_tokens"] = int(field(u, "output_tokens", 0))
        return meters, "llm_completion"
    if kind == "stt_usage":
        if field(u, "input_tokens", 0):  # token-billed (gpt-4o-transcribe …)
            return {"input_tokens": field(u, "input_tokens"), "output_tokens": field(u, "output_tokens", 0)}, "stt"
        return {"audio_seconds": _seconds(field(u, "audio_duration", 0.0))}, "stt"
    if kind == "tts_usage":
        if field(u, "characters_count", 0):
            return {"characters": field(u, "characters_count")}, "tts"
        if field(u, "input_tokens", 0) or field(u, "output_tokens", 0):
            return {"input_tokens": field(u, "input_tokens", 0), "output_tokens": field(u, "output_tokens", 0)}, "tts"
        return {"audio_seconds": _seconds(field(u, "audio_duration", 0.0))}, "tts"
    return {}, ""


def _seconds(value: float) -> Decimal:
    # Durations come as floats; keep them to the millisecond, exactly.
    return Decimal(str(round(float(value), 3)))


def room_event(session_id: str, participant_minutes: Decimal | float, **fields: Any) -> dict[str, Any]:
    """The room's participant-minutes, once per room: every agent of a room writes the same event id."""
    return {
        "event_id": stable_id("livekit", session_id, "room"),
        "service": "livekit",
        "model": "cloud",
        "operation": "room",
        "usage": {"participant_minutes": Decimal(str(round(float(participant_minutes), 4)))},
        "session_id": session_id,
        **fields,
    }


def record_usage(target: Recorder[R], usage: Any, *, session_id: str, **fields: Any) -> R:
    """Record a LiveKit session's model usage under `session_id` (the room name), in one batch."""
    return target.record_many(usage_events(usage, session_id=session_id, **fields))


def record_room(target: Recorder[R], session_id: str, participant_minutes: Decimal | float, **fields: Any) -> R:
    """Record a room's participant-minutes (room time × participants) under `session_id`."""
    return target.record(room_event(session_id, participant_minutes, **fields))


class RoomClock:
    """Participant-minutes: the integral of how many were in the room over time."""

    def __init__(self, participants: int = 1, now: float | None = None) -> None:
        self.started = time.monotonic() if now is None else now
        self._since = self.started
        self._participants = participants
        self._seconds = 0.0

    def set_participants(self, count: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._seconds += (now - self._since) * self._participants
        self._since, self._participants = now, count

    def participant_minutes(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return (self._seconds + (now - self._since) * self._participants) / 60


class SessionTracker:
    """What `track()` returns: counts the room's participants and records everything at shutdown."""

    def __init__(
        self, target: Recorder[Any], agent_session: Any, room: Any, *, count_agent: bool = True, **fields: Any
    ) -> None:
        self.target = target
        self.agent_session = agent_session
        self.room = room
        self.fields = fields
        self.count_agent = count_agent
        self.clock = RoomClock(self._participants())
        self.recorded: Any = None
        for event in ("connected", "participant_connected", "participant_disconnected"):
            room.on(event, self._recount)

    def _participants(self) -> int:
        return len(getattr(self.room, "remote_participants", {})) + (1 if self.count_agent else 0)

    def _recount(self, *_: Any) -> None:
        self.clock.set_participants(self._participants())

    @property
    def session_id(self) -> str:
        # Known only once connected: the entrypoint runs before ctx.connect().
        return str(self.fields.get("session_id") or self.room.name)

    def record(self) -> Any:
        """Record the usage so far and the room time in one batch.

        Once per session: the events' ids make a second call a no-op, so call it at the end.
        """
        fields = {k: v for k, v in self.fields.items() if k != "session_id"}
        ended = clock.now()
        events = usage_events(self.agent_session.usage, session_id=self.session_id, ts=ended, **fields)
        room_fields = {k: v for k, v in fields.items() if k != "agent"}
        events.append(room_event(self.session_id, self.clock.participant_minutes(), ts=ended, **room_fields))
        self.recorded = self.target.record_many(events)
        return self.recorded

    async def aclose(self) -> None:
        self.record()


def track(
    ctx: Any, agent_session: Any, target: Recorder[Any], *, count_agent: bool = True, **fields: Any
) -> SessionTracker:
    """Record `agent_session`'s usage and the room's participant-minutes when the job `ctx` shuts down.

    `fields` (agent=, user_id=, tier=, mode=, …) go on every event; session_id is the room's name.
    """
    tracker = SessionTracker(target, agent_session, ctx.room, count_agent=count_agent, **fields)
    ctx.add_shutdown_callback(tracker.aclose)
    return tracker


__all__ = [
    "RoomClock",
    "SessionTracker",
    "record_room",
    "record_usage",
    "room_event",
    "service_and_model",
    "track",
    "usage_events",
]
