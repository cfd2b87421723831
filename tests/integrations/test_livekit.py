"""LiveKit Agents: the package's own metrics, usage collector, AgentSession and Room; no LiveKit server."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import costledger
from costledger import Ledger
from costledger.integrations.livekit import RoomClock, service_and_model, track, usage_events

from .conftest import sdk


def _metrics() -> list[Any]:
    sdk("livekit.agents")
    from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics
    from livekit.agents.metrics.base import Metadata

    def llm(provider: str, model: str, prompt: int, cached: int, out: int) -> LLMMetrics:
        return LLMMetrics(label="llm", request_id="r", timestamp=0, duration=1, ttft=0.2, cancelled=False,
                          completion_tokens=out, prompt_tokens=prompt, prompt_cached_tokens=cached,
                          total_tokens=prompt + out, tokens_per_second=10,
                          metadata=Metadata(model_provider=provider, model_name=model))  # fmt: skip

    stt = STTMetrics(label="stt", request_id="r", timestamp=0, duration=0, audio_duration=150.25, streamed=True,
                     metadata=Metadata(model_provider="Deepgram", model_name="nova-3"))  # fmt: skip
    tts = TTSMetrics(label="tts", request_id="r", timestamp=0, ttfb=0.1, duration=1, audio_duration=30,
                     cancelled=False, characters_count=2100, streamed=True,
                     metadata=Metadata(model_provider="Cartesia", model_name="sonic-3"))  # fmt: skip
    return [
        llm("Anthropic", "claude-sonnet-4-20250514", 8000, 6000, 300),
        llm("Anthropic", "claude-sonnet-4-20250514", 9000, 8000, 200),
        llm("livekit", "openai/gpt-4.1-mini", 1000, 0, 50),
        stt,
        stt,
        tts,
    ]


def test_provider_names_become_costledger_services() -> None:
    assert service_and_model("api.openai.com", "gpt-4o") == ("openai", "gpt-4o")
    assert service_and_model("Deepgram", "nova-3") == ("deepgram", "nova-3")
    assert service_and_model("livekit", "cartesia/sonic-3") == ("cartesia", "sonic-3")
    assert service_and_model("api.mistral.ai", "mistral-large") == ("mistral", "mistral-large")


def test_collected_usage_becomes_one_priced_event_per_model(ledger: Ledger) -> None:
    from livekit.agents.metrics import ModelUsageCollector

    collector = ModelUsageCollector()
    for m in _metrics():
        collector.collect(m)
    events = usage_events(collector, session_id="room-7", agent="scholar")
    by_service = {e["service"]: e for e in events}
    assert by_service["anthropic"]["usage"] == {"input_tokens": 17000, "cache_read_tokens": 14000,
                                                "output_tokens": 500}  # fmt: skip
    assert by_service["deepgram"]["usage"] == {"audio_seconds": Decimal("300.5")}
    assert by_service["cartesia"]["usage"] == {"characters": 2100}
    assert by_service["openai"]["model"] == "gpt-4.1-mini"
    done = ledger.record_many(events)
    assert done.accepted == 4 and done.unpriced == 0
    expected = (
        costledger.price("anthropic", "claude-sonnet-4-20250514", input_tokens=17000, cache_read_tokens=14000,
                         output_tokens=500).total
        + costledger.price("openai", "gpt-4.1-mini", input_tokens=1000, output_tokens=50).total
        + costledger.price("deepgram", "nova-3", audio_seconds=Decimal("300.5")).total
        + costledger.price("cartesia", "sonic-3", characters=2100).total
    )  # fmt: skip
    assert ledger.total_usd() == pytest.approx(expected, abs=Decimal("0.000000002"))


def test_room_clock_integrates_participants_over_time() -> None:
    clock = RoomClock(participants=1, now=0)
    clock.set_participants(3, now=60)  # 1 for a minute
    clock.set_participants(2, now=180)  # 3 for two minutes
    assert clock.participant_minutes(now=270) == 1 + 6 + 3


@pytest.mark.timeout(30)
def test_track_records_session_usage_and_room_minutes_at_shutdown(ledger: Ledger) -> None:
    sdk("livekit.agents")
    from livekit import rtc
    from livekit.agents import AgentSession
    from livekit.rtc._proto import participant_pb2, room_pb2

    class JobContext:
        """The two parts of livekit.agents.JobContext that track() uses (a real one needs a worker)."""

        def __init__(self, room: rtc.Room) -> None:
            self.room = room
            self.callbacks: list[Any] = []

        def add_shutdown_callback(self, callback: Any) -> None:
            self.callbacks.append(callback)

    async def run() -> None:
        room = rtc.Room()
        ctx = JobContext(room)
        session = AgentSession()
        tracker = track(ctx, session, ledger, agent="scholar", user_id="u_17", tier="creator")
        room._info.name = "council-room-3"  # what connecting sets
        # Two people join through the Room's own event path, as LiveKit's FFI delivers them.
        for who in ("alice", "bob"):
            info = participant_pb2.OwnedParticipant(info=participant_pb2.ParticipantInfo(identity=who))
            room._on_room_event(room_pb2.RoomEvent(participant_connected=room_pb2.ParticipantConnected(info=info)))
        assert tracker._participants() == 3
        for m in _metrics():
            session._usage_collector.collect(m)  # what AgentActivity does on each metrics event
        # Room time is measured on the real clock: let a known span pass with three in the room.
        await asyncio.sleep(0.3)
        for callback in ctx.callbacks:
            await callback()

    asyncio.run(run())
    summary = ledger.session_summary("council-room-3")
    assert summary is not None and summary.events == 5 and summary.unpriced == 0
    assert set(summary.by_service) == {"anthropic", "openai", "deepgram", "cartesia", "livekit"}
    assert summary.by_agent.get("scholar", 0) > 0
    (room_row,) = [e for e in ledger.session_events("council-room-3") if e["service"] == "livekit"]
    # At least 3 participants × 0.3 s = 0.015 participant-minutes (the span also includes setup).
    assert room_row["agent"] is None and room_row["usage"]["participant_minutes"] >= Decimal("0.015")
