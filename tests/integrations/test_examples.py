"""Every example runs as a user would run it: a subprocess, no keys, no network, bounded time."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import costledger

from .conftest import EXAMPLES, sdk


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                          timeout=150, cwd=EXAMPLES)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.timeout(180)
def test_voice_council_records_every_agent_in_one_session(tmp_path: Path) -> None:
    sdk("livekit.agents")
    out = run("voice_council.py", str(tmp_path / "council.db"))
    assert re.search(r"session council-room-7: 13 events, 0 unpriced, total \$0\.\d+", out), out
    for name in ("agent scholar", "agent critic", "agent host", "service livekit", "service deepgram"):
        assert name in out


@pytest.mark.timeout(180)
def test_instrumented_anthropic_client_example(tmp_path: Path) -> None:
    sdk("anthropic")
    out = run("anthropic_instrumented.py", str(tmp_path / "a.db"))
    found = re.search(r"recorded 3 calls for session research-42: \$([\d.]+)\none call: \$([\d.]+)", out)
    assert found is not None, out
    one = costledger.price("anthropic", "claude-haiku-4-5", input_tokens=8000, cache_read_tokens=7600,
                           output_tokens=350, web_searches=1).total  # fmt: skip
    assert Decimal(found.group(2)) == one and Decimal(found.group(1)) == 3 * one


@pytest.mark.timeout(180)
def test_otel_pipeline_into_costledger_serve() -> None:
    sdk("opentelemetry.sdk")
    out = run("otel_pipeline.py")
    assert "session call-991: 4 events from spans, 0 unpriced" in out, out
    assert "service anthropic" in out and "service openai" in out


@pytest.mark.timeout(180)
def test_phone_call_to_a_realtime_voice_agent_costs_what_each_provider_bills(tmp_path: Path) -> None:
    sdk("livekit.agents")
    out = run("phone_agent_realtime.py", str(tmp_path / "phone.db"))
    found = re.search(r"phone call RM_\w+: 4 events, 0 unpriced, total \$([\d.]+)", out)
    assert found is not None, out
    # gpt-realtime, three turns (LiveKit sums them: 19,500 in of which 18,000 audio, 10,000 cached of which
    # 9,000 audio; 3,900 out of which 3,600 audio), at $4 text / $32 audio in, $0.40 cached, $16 / $64 out:
    #   500 text × $4/M + 1,000 cached text × $0.40/M + 9,000 audio × $32/M + 9,000 cached audio × $0.40/M
    #   + 300 text out × $16/M + 3,600 audio out × $64/M = 0.002 + 0.0004 + 0.288 + 0.0036 + 0.0048 + 0.2304
    realtime = Decimal("0.5292")
    # LiveKit Cloud (the catalog's unconfirmed rates), each connection rounded up to whole minutes:
    # the agent's session, 185 s → 4 min × $0.01; the caller over SIP, 182 s → 4 min × $0.004
    livekit = Decimal("0.04") + Decimal("0.016")
    twilio = Decimal("0.034")  # Twilio US inbound, 182 s → 4 min × $0.0085
    assert Decimal(found.group(1)) == realtime + livekit + twilio == Decimal("0.6192")
