"""LiveKit Agents: the package's own metrics, usage collector, AgentSession, Room and fake job context.

No LiveKit server: a Room is filled the way `Room.connect()` fills it (the participants
already there) and then fed the FFI's room events, as LiveKit delivers them.

Prices, computed by hand: Anthropic claude-sonnet-4-20250514 input $3, output $15, cache read
$0.30 per million tokens; OpenAI gpt-4.1-mini input $0.40, output $1.60; gpt-realtime text in $4,
cached text $0.40, audio in $32, cached audio $0.40, text out $16, audio out $64;
gpt-4o-transcribe text in $2.50, audio in $6, out $10; gpt-4o-mini-tts text in $0.60, audio
out $12; LiveKit Cloud at the catalog's (unconfirmed) rates: agent-session minute $0.01, WebRTC minute $0.0005, SIP
minute $0.004, each connection rounded up to a whole minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from costledger import Ledger, clock
from costledger.integrations.livekit import service_and_model, track, usage_events

from .conftest import sdk


def _llm(provider: str, model: str, prompt: int, cached: int, out: int) -> Any:
    from livekit.agents.metrics import LLMMetrics
    from livekit.agents.metrics.base import Metadata

    return LLMMetrics(label="llm", request_id="r", timestamp=0, duration=1, ttft=0.2, cancelled=False,
                      completion_tokens=out, prompt_tokens=prompt, prompt_cached_tokens=cached,
                      total_tokens=prompt + out, tokens_per_second=10,
                      metadata=Metadata(model_provider=provider, model_name=model))  # fmt: skip


def _collected(*metrics: Any) -> Any:
    from livekit.agents.metrics import ModelUsageCollector

    collector = ModelUsageCollector()
    for m in metrics:
        collector.collect(m)
    return collector


def test_provider_names_become_costledger_services() -> None:
    assert service_and_model("api.openai.com", "gpt-4o") == ("openai", "gpt-4o")
    assert service_and_model("Deepgram", "nova-3") == ("deepgram", "nova-3")
    assert service_and_model("livekit", "cartesia/sonic-3") == ("cartesia", "sonic-3")
    assert service_and_model("api.mistral.ai", "mistral-large") == ("mistral", "mistral-large")


def test_realtime_model_audio_tokens_and_session_time(ledger: Ledger) -> None:
    sdk("livekit.agents")
    from livekit.agents.metrics import RealtimeModelMetrics
    from livekit.agents.metrics.base import Metadata

    details = RealtimeModelMetrics.InputTokenDetails(
        text_tokens=2000, audio_tokens=8000, cached_tokens=4000,
        cached_tokens_details=RealtimeModelMetrics.CachedTokenDetails(text_tokens=1000, audio_tokens=3000),
    )  # fmt: skip
    realtime = RealtimeModelMetrics(
        request_id="resp_1", timestamp=0, input_tokens=10000, output_tokens=3000, total_tokens=13000,
        input_token_details=details,
        output_token_details=RealtimeModelMetrics.OutputTokenDetails(text_tokens=500, audio_tokens=2500),
        metadata=Metadata(model_provider="api.openai.com", model_name="gpt-realtime"),
    )  # fmt: skip
    grok = RealtimeModelMetrics(
        request_id="r2", timestamp=0, session_duration=300,
        input_token_details=RealtimeModelMetrics.InputTokenDetails(),
        output_token_details=RealtimeModelMetrics.OutputTokenDetails(),
        metadata=Metadata(model_provider="api.x.ai", model_name="grok-voice"),
    )  # fmt: skip
    events = usage_events(_collected(realtime, grok), session_id="call-1")
    assert [(e["service"], e["operation"], e["usage"]) for e in events] == [
        ("openai", "llm_completion", {"input_tokens": 10000, "cache_read_tokens": 4000, "input_audio_tokens": 8000,
                                      "cache_audio_read_tokens": 3000, "output_tokens": 3000,
                                      "output_audio_tokens": 2500}),
        ("xai", "realtime_session", {"audio_seconds": Decimal("300.0")}),  # billed by session time
    ]  # fmt: skip
    done = ledger.record_many(events)
    assert done.accepted == 2
    # 1,000 text × $4/M + 1,000 cached text × $0.40/M + 5,000 audio × $32/M + 3,000 cached audio × $0.40/M
    # + 500 text out × $16/M + 2,500 audio out × $64/M = 0.004 + 0.0004 + 0.16 + 0.0012 + 0.008 + 0.16
    (openai,) = [e for e in ledger.session_events("call-1") if e["service"] == "openai"]
    assert openai["cost_usd"] == Decimal("0.3336")


def test_token_billed_stt_and_tts(ledger: Ledger) -> None:
    sdk("livekit.agents")
    from livekit.agents.metrics import STTMetrics, TTSMetrics
    from livekit.agents.metrics.base import Metadata

    stt = STTMetrics(label="stt", request_id="s", timestamp=0, duration=0, audio_duration=60, streamed=True,
                     input_tokens=1200, input_audio_tokens=1100, output_tokens=300,
                     metadata=Metadata(model_provider="api.openai.com", model_name="gpt-4o-transcribe"))  # fmt: skip
    tts = TTSMetrics(label="tts", request_id="t", timestamp=0, ttfb=0.1, duration=1, audio_duration=30,
                     cancelled=False, characters_count=6, input_tokens=40, output_tokens=1500, streamed=True,
                     metadata=Metadata(model_provider="api.openai.com", model_name="gpt-4o-mini-tts"))  # fmt: skip
    done = ledger.record_many(usage_events(_collected(stt, tts), session_id="call-2"))
    # STT: 100 text × $2.50/M + 1,100 audio × $6/M + 300 × $10/M = 0.00985
    # TTS: 40 × $0.60/M + 1,500 audio × $12/M = 0.018024 (tokens, not the 6 characters)
    assert done.unpriced == 0 and done.cost_usd == Decimal("0.027874")


@contextmanager
def _room(name: str, present: list[tuple[str, int, float]], agent_joined: float = 40) -> Iterator[Any]:
    """A Room as `Room.connect()` leaves it: the agent joined `agent_joined` seconds ago, and `present`
    (identity, kind, seconds ago joined) in it."""
    sdk("livekit.agents")
    from livekit import rtc
    from livekit.agents.testing import fake_job_context
    from livekit.rtc._proto import participant_pb2

    room = rtc.Room()
    room._info.name = name
    room._local_participant = rtc.LocalParticipant(room._room_queue, _owned(participant_pb2, "agent", 4, agent_joined))
    for identity, kind, ago in present:
        room._create_remote_participant(_owned(participant_pb2, identity, kind, ago))
    with fake_job_context(room=room, job_id=f"AJ_{name}") as ctx:
        yield ctx


def _owned(pb: Any, identity: str, kind: int, seconds_ago: float) -> Any:
    joined = clock.now() - dt.timedelta(seconds=seconds_ago)
    info = pb.ParticipantInfo(identity=identity, sid=f"PA_{identity}", kind=kind,  # type: ignore[arg-type]
                              joined_at=int(joined.timestamp() * 1000))  # fmt: skip
    return pb.OwnedParticipant(info=info)


def _room_event(room: Any, kind: str, owned: Any) -> None:
    """A participant joining or leaving, through the Room's own event path (what LiveKit's FFI delivers)."""
    from livekit.rtc._proto import room_pb2

    if kind == "join":
        room._on_room_event(room_pb2.RoomEvent(participant_connected=room_pb2.ParticipantConnected(info=owned)))
    else:
        leave = room_pb2.ParticipantDisconnected(participant_identity=owned.info.identity)
        room._on_room_event(room_pb2.RoomEvent(participant_disconnected=leave))


async def _shutdown(ctx: Any) -> None:
    for callback in ctx._shutdown_callbacks:
        await callback("test over")


@pytest.mark.timeout(30)
def test_everyone_in_the_room_from_connect_on_is_billed_per_connection(ledger: Ledger) -> None:
    from livekit.agents import AgentSession
    from livekit.rtc._proto import participant_pb2 as pb

    async def run() -> str:
        # Alice is already in the room when the agent connects (150 s ago): no event will say so.
        with _room("support-room", [("alice", 0, 150)]) as ctx:
            session = AgentSession()
            track(ctx, session, ledger, agent="scholar", user_id="u_17")
            bob = _owned(pb, "bob", 3, 70)  # a phone caller, through SIP, for 70 s
            _room_event(ctx.room, "join", bob)
            _room_event(ctx.room, "leave", bob)
            session._usage_collector.collect(_llm("Anthropic", "claude-sonnet-4-20250514", 8000, 6000, 300))
            await _shutdown(ctx)
            return str(ctx.job.room.sid)

    sid = asyncio.run(run())
    events = {e["operation"]: e for e in ledger.session_events(sid)}
    assert set(events) == {"llm_completion", "agent_session", "webrtc", "sip"}
    assert {e["tags"]["livekit.room"] for e in events.values()} == {"support-room"}
    assert events["webrtc"]["usage"] == {"webrtc_minutes": Decimal("2.5")} and events["webrtc"]["agent"] is None
    assert events["sip"]["usage"] == {"sip_minutes": Decimal("1.166667")}
    # Alice 2.5 min → 3 × $0.0005 = 0.0015; Bob 70 s → 2 SIP minutes × $0.004 = 0.008;
    # the agent's session, 40 s → 1 × $0.01; Claude: 2,000 × $3/M + 6,000 × $0.30/M + 300 × $15/M
    summary = ledger.session_summary(sid)
    assert summary is not None and summary.unpriced == 0
    assert summary.cost_usd == Decimal("0.0015") + Decimal("0.008") + Decimal("0.01") + Decimal("0.0123")


@pytest.mark.timeout(30)
def test_a_reused_room_name_is_a_new_session(ledger: Ledger) -> None:
    from livekit.agents import AgentSession

    async def one_call() -> str:
        with _room("daily-standup", [("alice", 0, 30)]) as ctx:
            session = AgentSession()
            track(ctx, session, ledger, agent="host")
            session._usage_collector.collect(_llm("api.openai.com", "gpt-4.1-mini", 1000, 0, 50))
            await _shutdown(ctx)
            return str(ctx.job.room.sid)

    first, second = asyncio.run(one_call()), asyncio.run(one_call())
    assert first != second
    for sid in (first, second):
        summary = ledger.session_summary(sid)
        # 1,000 × $0.40/M + 50 × $1.60/M = 0.00048; Alice 1 min × $0.0005; the agent 1 min × $0.01
        assert summary is not None and summary.events == 3 and summary.cost_usd == Decimal("0.01098")
