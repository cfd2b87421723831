"""A voice council: three agents deliberate in one LiveKit room, all recorded in one costledger session.

Runs without LiveKit, keys or network: each agent's usage is collected by LiveKit
Agents' own `ModelUsageCollector` from the metrics its LLM, STT and TTS emit (here
made up, as a real session would emit them), and recorded through
costledger.integrations.livekit. In a real agent the whole thing is one line in
the entrypoint:

    costledger.integrations.livekit.track(ctx, session, ledger, agent="scholar", user_id=..., tier=...)

Usage: python examples/voice_council.py [LEDGER.db]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from livekit.agents.metrics import LLMMetrics, ModelUsageCollector, STTMetrics, TTSMetrics
from livekit.agents.metrics.base import Metadata

import costledger
from costledger.integrations.livekit import record_connection, record_usage

ROOM = "council-room-7"
COUNCIL = {  # agent → (LLM provider, model, turns)
    "scholar": ("Anthropic", "claude-sonnet-4-20250514", 4),
    "critic": ("api.openai.com", "gpt-4o", 3),
    "host": ("livekit", "openai/gpt-4.1-mini", 5),
}


def deliberate(provider: str, model: str, turns: int) -> ModelUsageCollector:
    """What one agent's AgentSession collects over a deliberation."""
    usage = ModelUsageCollector()
    for turn in range(turns):
        prompt = 6000 + 1500 * turn  # the transcript grows; most of it is cached after the first turn
        usage.collect(
            LLMMetrics(
                label="llm",
                request_id=f"r{turn}",
                timestamp=0,
                duration=1.2,
                ttft=0.3,
                cancelled=False,
                completion_tokens=220,
                prompt_tokens=prompt,
                prompt_cached_tokens=prompt - 1500 if turn else 0,
                total_tokens=prompt + 220,
                tokens_per_second=180,
                metadata=Metadata(model_provider=provider, model_name=model),
            )
        )
        usage.collect(
            TTSMetrics(
                label="tts",
                request_id=f"t{turn}",
                timestamp=0,
                ttfb=0.2,
                duration=2,
                audio_duration=14,
                cancelled=False,
                characters_count=260,
                streamed=True,
                metadata=Metadata(model_provider="Cartesia", model_name="sonic-3"),
            )
        )
    usage.collect(
        STTMetrics(
            label="stt",
            request_id="s",
            timestamp=0,
            duration=0,
            audio_duration=95.5,
            streamed=True,
            metadata=Metadata(model_provider="Deepgram", model_name="nova-3"),
        )
    )
    return usage  # fmt: skip


def main(path: str) -> None:
    with costledger.Ledger(path) as ledger, ledger.session(ROOM, user_id="u_17", tier="creator", mode="combined") as s:
        for agent, (provider, model, turns) in COUNCIL.items():
            record_usage(s, deliberate(provider, model, turns), session_id=ROOM, agent=agent)
        # 6 minutes with the user in the room (a WebRTC connection) and each agent's 6-minute session.
        record_connection(s, ROOM, "PA_user", 6 * 60, meter="webrtc_minutes")
        for agent in COUNCIL:
            record_connection(s, ROOM, f"job:{agent}", 6 * 60, meter="agent_session_minutes", agent=agent)
        summary = s.summary
        assert summary is not None
        print(f"session {ROOM}: {summary.events} events, {summary.unpriced} unpriced, total ${summary.cost_usd}")
        for agent, cost in sorted(summary.by_agent.items()):
            print(f"  agent {agent or '(room)'}: ${cost}")
        for service, cost in sorted(summary.by_service.items()):
            print(f"  service {service}: ${cost}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "council.db"))
