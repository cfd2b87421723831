"""LiveKit Agents (1.x): a voice session's model usage and its LiveKit Cloud billing units, as priced events.

In an agent's entrypoint, one call:

    costledger.integrations.livekit.track(ctx, session, ledger, agent="scholar", user_id=…)

records, when the job shuts down, the session's usage (`AgentSession.usage`: one
`LLMModelUsage`, `STTModelUsage` or `TTSModelUsage` per provider and model, realtime
models included), the agent's session minutes, and one event per participant
connection (WebRTC or SIP minutes, which LiveKit rounds up per connection), under
session id = the room's sid (one per room session, even in a reused room), else the
job id; the room's name is kept in the `livekit.room` tag.
`record_usage(...)` and `record_connection(...)` do the same by hand.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any, TypeVar

from .. import clock
from ._recording import Recorder, count, field, nonzero, stable_id, with_fields

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
    "api.x.ai": "xai",
}
# The billing meter of a participant connection, by rtc.ParticipantKind (0 standard, 3 SIP).
# Agents are billed by their own agent-session minutes; ingress and egress by transcode time.
CONNECTION_METERS = {0: "webrtc_minutes", 3: "sip_minutes"}
ROOM_TAG = "livekit.room"


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

    LLM and realtime-model tokens with their parts (cache reads and writes, audio and
    image input, audio and reasoning output), a realtime model's session time (billed
    by duration, as xAI's) as its own event, STT audio seconds or tokens, TTS tokens
    (else characters, else audio seconds). Turn-detection and interruption models run
    locally or are not billed per use: not recorded.
    """
    if hasattr(usage, "flatten"):
        usage = usage.flatten()
    models: Iterable[Any] = field(usage, "model_usage", usage)
    events = []
    for model_usage in models:
        kind = field(model_usage, "type")
        service, model = service_and_model(field(model_usage, "provider", ""), field(model_usage, "model", ""))
        for operation, meters in _meters(kind, model_usage):
            parts = fields.get("session_id"), fields.get("agent"), operation, service, model
            event = {
                "event_id": stable_id("livekit", *parts),
                "service": service,
                "model": model,
                "operation": operation,
                "usage": meters,
                "metadata": {"livekit_provider": field(model_usage, "provider", "")},
            }
            events.append(with_fields(event, fields))
    return events


def _meters(kind: str | None, u: Any) -> list[tuple[str, dict[str, Any]]]:
    """(operation, meters) of one ModelUsage: LiveKit counts prompt tokens whole, cache and audio inside."""
    found: list[tuple[str, dict[str, Any]]] = []
    if kind == "llm_usage":
        tokens = nonzero({
            "input_tokens": count(u, "input_tokens"),
            "cache_read_tokens": count(u, "input_cached_tokens"),
            "cache_write_tokens": count(u, "input_cache_creation_tokens"),
            "input_audio_tokens": count(u, "input_audio_tokens"),
            "cache_audio_read_tokens": count(u, "input_cached_audio_tokens"),
            "input_image_tokens": count(u, "input_image_tokens"),
            "cache_image_read_tokens": count(u, "input_cached_image_tokens"),
            "output_tokens": count(u, "output_tokens"),
            "output_audio_tokens": count(u, "output_audio_tokens"),
            "output_reasoning_tokens": count(u, "output_reasoning_tokens"),
        })  # fmt: skip
        if tokens:
            found.append(("llm_completion", tokens))
        if field(u, "session_duration", 0):
            found.append(("realtime_session", {"audio_seconds": _seconds(field(u, "session_duration"))}))
    elif kind == "stt_usage":
        if count(u, "input_tokens"):  # token-billed (gpt-4o-transcribe …)
            found.append(("stt", nonzero({"input_tokens": count(u, "input_tokens"),
                                          "input_audio_tokens": count(u, "input_audio_tokens"),
                                          "output_tokens": count(u, "output_tokens")})))  # fmt: skip
        elif field(u, "audio_duration", 0):
            found.append(("stt", {"audio_seconds": _seconds(field(u, "audio_duration"))}))
    elif kind == "tts_usage":
        if count(u, "input_tokens") or count(u, "output_tokens"):  # token-billed (gpt-4o-mini-tts): audio out
            found.append(("tts", nonzero({"input_tokens": count(u, "input_tokens"),
                                          "output_tokens": count(u, "output_tokens"),
                                          "output_audio_tokens": count(u, "output_tokens")})))  # fmt: skip
        elif count(u, "characters_count"):
            found.append(("tts", {"characters": count(u, "characters_count")}))
        elif field(u, "audio_duration", 0):
            found.append(("tts", {"audio_seconds": _seconds(field(u, "audio_duration"))}))
    return found


def _seconds(value: float) -> Decimal:
    # Durations come as floats; keep them to the millisecond, exactly.
    return Decimal(str(round(float(value), 3)))


def _minutes(seconds: float) -> Decimal:
    # Up, never down to zero: a connection of any length is billed (a whole minute, by its price).
    return (_seconds(max(seconds, 0.0)) / 60).quantize(Decimal("0.000001"), rounding=ROUND_UP)


def connection_event(
    session_id: str, connection_id: str, seconds: float, *, meter: str = "webrtc_minutes", **fields: Any
) -> dict[str, Any]:
    """One LiveKit Cloud connection: `meter` is webrtc_minutes, sip_minutes or agent_session_minutes.

    The minutes are exact; LiveKit bills each connection rounded up to a whole minute,
    which the price of the meter does. Every agent of a room writes a participant's
    connection under the same id, so it counts once.
    """
    event = {
        "event_id": stable_id("livekit", session_id, connection_id, meter),
        "service": "livekit",
        "model": "cloud",
        "operation": meter.removesuffix("_minutes"),
        "usage": {meter: _minutes(seconds)},
        "session_id": session_id,
    }
    return with_fields(event, fields)


def record_usage(target: Recorder[R], usage: Any, *, session_id: str, **fields: Any) -> R:
    """Record a LiveKit session's model usage under `session_id`, in one batch."""
    return target.record_many(usage_events(usage, session_id=session_id, **fields))


def record_connection(target: Recorder[R], session_id: str, connection_id: str, seconds: float, **fields: Any) -> R:
    """Record one connection (a participant's, or the agent's with meter="agent_session_minutes")."""
    return target.record(connection_event(session_id, connection_id, seconds, **fields))


@dataclass
class _Connection:
    """A participant's time in the room: from the server's `joined_at`, else from when it was seen."""

    identity: str
    kind: int
    joined_at: dt.datetime | None
    seen: float  # time.monotonic() when first seen
    left_at: dt.datetime | None = None
    left: float | None = None

    def seconds(self, now: dt.datetime, mono: float) -> float:
        if self.joined_at is not None:
            return ((self.left_at or now) - self.joined_at).total_seconds()
        return (self.left or mono) - self.seen


class SessionTracker:
    """What `track()` returns: follows the room's connections and records everything at shutdown."""

    def __init__(
        self,
        target: Recorder[Any],
        agent_session: Any,
        ctx: Any,
        *,
        count_agent: bool = True,
        deployed: bool = True,
        **fields: Any,
    ) -> None:
        self.target = target
        self.agent_session = agent_session
        self.ctx = ctx
        self.room = ctx.room
        self.fields = fields
        self.count_agent = count_agent
        # An agent deployed on LiveKit Cloud is billed agent-session minutes; one run elsewhere, a WebRTC connection.
        self.agent_meter = "agent_session_minutes" if deployed else "webrtc_minutes"
        self.started = time.monotonic()
        self.connections: dict[str, _Connection] = {}
        self.recorded: Any = None
        self.room.on("participant_connected", self._seen)
        self.room.on("participant_disconnected", self._left)

    def _seen(self, participant: Any) -> _Connection:
        sid = str(participant.sid or participant.identity)
        if sid not in self.connections:
            joined = participant.joined_at
            self.connections[sid] = _Connection(participant.identity, int(participant.kind), joined, time.monotonic())
        return self.connections[sid]

    def _left(self, participant: Any) -> None:
        connection = self._seen(participant)
        connection.left_at, connection.left = clock.now(), time.monotonic()

    @property
    def session_id(self) -> str:
        """The room's sid (the job knows it before connecting), else the job's id."""
        job = getattr(self.ctx, "job", None)
        room = getattr(job, "room", None)
        sid = self.fields.get("session_id") or getattr(room, "sid", "") or getattr(job, "id", "")
        return str(sid or self.room.name)

    def events(self) -> list[dict[str, Any]]:
        """The session's usage, the agent's session minutes and every connection seen, up to now."""
        for participant in list(getattr(self.room, "remote_participants", {}).values()):
            self._seen(participant)  # those already in the room at connect, and still there
        now, mono = clock.now(), time.monotonic()
        session_id = self.session_id
        fields = {k: v for k, v in self.fields.items() if k != "session_id"}
        fields["ts"] = now
        name = getattr(getattr(getattr(self.ctx, "job", None), "room", None), "name", "") or self.room.name
        if name:
            fields["tags"] = {ROOM_TAG: name, **fields.get("tags", {})}
        events = usage_events(self.agent_session.usage, session_id=session_id, **fields)
        if self.count_agent:
            job_id = str(getattr(getattr(self.ctx, "job", None), "id", "") or "agent")
            events.append(connection_event(session_id, f"job:{job_id}", self._agent_seconds(now, mono),
                                           meter=self.agent_meter, **fields))  # fmt: skip
        room_fields = {k: v for k, v in fields.items() if k != "agent"}
        for sid, connection in self.connections.items():
            meter = CONNECTION_METERS.get(connection.kind)
            if meter is None:
                continue
            event = connection_event(session_id, sid, connection.seconds(now, mono), meter=meter, **room_fields)
            event["metadata"] = {"participant": connection.identity}
            events.append(event)
        return events

    def _agent_seconds(self, now: dt.datetime, mono: float) -> float:
        """The agent's own connection: from its participant's `joined_at`, else from when tracking began."""
        try:
            joined = self.room.local_participant.joined_at
        except Exception:  # never connected: no local participant
            joined = None
        return (now - joined).total_seconds() if joined is not None else mono - self.started

    def record(self) -> Any:
        """Record the usage so far and the room's connections in one batch.

        Once per session: the events' ids make a second call a no-op, so call it at the end.
        """
        self.recorded = self.target.record_many(self.events())
        return self.recorded

    async def aclose(self) -> None:
        self.record()


def track(
    ctx: Any,
    agent_session: Any,
    target: Recorder[Any],
    *,
    count_agent: bool = True,
    deployed: bool = True,
    **fields: Any,
) -> SessionTracker:
    """Record `agent_session`'s usage and the room's billing units when the job `ctx` shuts down.

    `fields` (agent=, user_id=, tier=, mode=, …) go on every event; the session id is
    the room's sid (else the job id) unless `session_id=` is given. The agent's own time
    is agent-session minutes, or with `deployed=False` (an agent not hosted on LiveKit
    Cloud) a WebRTC connection; `count_agent=False` leaves it out.
    """
    tracker = SessionTracker(target, agent_session, ctx, count_agent=count_agent, deployed=deployed, **fields)
    ctx.add_shutdown_callback(tracker.aclose)
    return tracker


__all__ = [
    "SessionTracker",
    "connection_event",
    "record_connection",
    "record_usage",
    "service_and_model",
    "track",
    "usage_events",
]
