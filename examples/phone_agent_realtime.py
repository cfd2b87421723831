"""A phone call answered by a realtime voice agent, every leg of it in one costledger session.

A caller dials a Twilio number; the call reaches a LiveKit room over SIP, where an
agent running OpenAI's gpt-realtime (speech in, speech out: audio tokens) answers.
One call to `costledger.integrations.livekit.track()` in the entrypoint records the
realtime model's usage (`RealtimeModelMetrics`, as LiveKit's OpenAI plugin emits
them), the agent's session minutes and the caller's SIP minutes; the Twilio leg is
one `record()` (or the Twilio webhook, where the server runs).

Runs without LiveKit, keys or network: LiveKit Agents' own job context, Room and
AgentSession, with the room filled as `Room.connect()` fills it.

Usage: python examples/phone_agent_realtime.py [LEDGER.db]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.metrics import RealtimeModelMetrics
from livekit.agents.metrics.base import Metadata
from livekit.agents.testing import fake_job_context
from livekit.rtc._proto import participant_pb2

import costledger
from costledger import clock
from costledger.integrations.livekit import track

AGENT_JOINED, CALLER_JOINED = 185, 182  # seconds before the call ends


def participant(identity: str, kind: int, seconds_ago: int) -> participant_pb2.OwnedParticipant:
    joined = clock.now() - dt.timedelta(seconds=seconds_ago)
    info = participant_pb2.ParticipantInfo(identity=identity, sid=f"PA_{identity}", kind=kind,  # type: ignore[arg-type]
                                           joined_at=int(joined.timestamp() * 1000))  # fmt: skip
    return participant_pb2.OwnedParticipant(info=info)


def turn(n: int) -> RealtimeModelMetrics:
    """Turn n of the conversation: the audio so far is the prompt, most of it cached after the first turn."""
    details = RealtimeModelMetrics.InputTokenDetails(
        text_tokens=500, audio_tokens=3000 * n, cached_tokens=(500 + 3000 * (n - 1)) if n > 1 else 0,
        cached_tokens_details=RealtimeModelMetrics.CachedTokenDetails(
            text_tokens=500 if n > 1 else 0, audio_tokens=3000 * (n - 1)),
    )  # fmt: skip
    return RealtimeModelMetrics(
        request_id=f"resp_{n}", timestamp=0, input_tokens=500 + 3000 * n, output_tokens=1300,
        total_tokens=1800 + 3000 * n, input_token_details=details,
        output_token_details=RealtimeModelMetrics.OutputTokenDetails(text_tokens=100, audio_tokens=1200),
        metadata=Metadata(model_provider="api.openai.com", model_name="gpt-realtime"),
    )  # fmt: skip


async def answer_call(ledger: costledger.Ledger) -> str:
    room = rtc.Room()
    room._info.name = "support-line"
    # What Room.connect() leaves: the agent itself, and the caller already in the room over SIP.
    room._local_participant = rtc.LocalParticipant(room._room_queue, participant("agent", 4, AGENT_JOINED))
    room._create_remote_participant(participant("+15551234567", participant_pb2.PARTICIPANT_KIND_SIP, CALLER_JOINED))
    with fake_job_context(room=room, job_id="AJ_support") as ctx:
        session = AgentSession()
        track(ctx, session, ledger, agent="receptionist", user_id="u_17", tier="pay-per-call", mode="phone")
        for n in (1, 2, 3):
            session._usage_collector.collect(turn(n))  # what the session does with each metrics event
        for callback in ctx._shutdown_callbacks:  # the job ends with the call
            await callback("caller hung up")
        session_id = str(ctx.job.room.sid)
    # The phone leg: Twilio bills the inbound call per minute, rounded up.
    ledger.record("twilio", "voice-inbound", phone_minutes=round(Decimal(CALLER_JOINED) / 60, 6), session_id=session_id,
                  operation="phone", user_id="u_17", tier="pay-per-call", mode="phone")  # fmt: skip
    return session_id


def main(path: str) -> None:
    with costledger.Ledger(path) as ledger:
        session_id = asyncio.run(answer_call(ledger))
        summary = ledger.session_summary(session_id)
        assert summary is not None
        print(f"phone call {session_id}: {summary.events} events, {summary.unpriced} unpriced, "
              f"total ${summary.cost_usd}")  # fmt: skip
        for event in ledger.session_events(session_id):
            print(f"  {event['service']:<8} {event['operation']:<15} {event['usage']} ${event['cost_usd']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "phone.db"))
