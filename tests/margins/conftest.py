"""A small, hand-checkable month of a council product, recorded through the real Ledger.

October 2026. Sonnet 4 at $3 / $15 per million tokens, so each session's cost is a
sum a person can redo; Stripe takes 2.9 % + $0.30 of each payment.

  creator (subscribed u_c1, u_c2; $29, 100 sessions)   explorer (u_e1; free, 10 sessions)
  expert_session (u_x1; $79 per session, a human expert costs $60 a session)
  fixed: one $20 server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from costledger import Ledger
from costledger.config import Config, parse_config
from costledger.ledger import Session

SONNET = ("anthropic", "claude-sonnet-4-20250514")

CONFIG = """
[[fixed_costs]]
name = "agent server"
monthly_usd = "20"
since = 2026-10-01

[[plans]]
name = "explorer"
price_usd = "0"
included_sessions = 10

[[plans]]
name = "creator"
price_usd = "29"
included_sessions = 100
min_margin_share = "0.2"

[[plans]]
name = "expert"
price_usd = "79"
period = "session"
modes = ["expert_session"]

[[session_types]]
mode = "combined"
estimate_usd = ["0.05", "0.20"]

[[session_types]]
mode = "expert_session"
estimate_usd = ["60", "61"]
extra_cost_usd = "60"

[[subscriptions]]
user_id = "u_c1"
plan = "creator"
since = 2026-10-01

[[subscriptions]]
user_id = "u_c2"
plan = "creator"
since = 2026-10-01
"""


def at(day: int, hour: int = 12) -> str:
    return dt.datetime(2026, 10, day, hour, tzinfo=dt.UTC).isoformat()


def record_october(ledger: Ledger) -> None:
    def llm(session: Session, day: int, inp: int, out: int, agent: str, model: tuple[str, str] = SONNET) -> None:
        session.record(model[0], model[1], input_tokens=inp, output_tokens=out, agent=agent, ts=at(day))

    with ledger.session("s1", user_id="u_c1", tier="creator", mode="combined") as s:
        llm(s, 2, 10_000, 1_000, "scholar")  # 0.045
    with ledger.session("s2", user_id="u_c1", tier="creator", mode="combined") as s:
        llm(s, 3, 20_000, 2_000, "scholar")  # 0.09
    with ledger.session("s3", user_id="u_c1", tier="creator", mode="combined") as s:
        llm(s, 4, 40_000, 0, "scholar")  # 0.12
    with ledger.session("s4", user_id="u_c2", tier="creator", mode="combined") as s:
        llm(s, 5, 100_000, 10_000, "synthesizer")  # 0.45
    with ledger.session("s5", user_id="u_c2", tier="creator", mode="combined") as s:
        llm(s, 6, 0, 1_000, "scholar")  # 0.015
        s.record("deepgram", "nova-3", audio_seconds=600, ts=at(6))  # 0.043
    with ledger.session("e1", user_id="u_e1", tier="explorer", mode="combined") as s:
        llm(s, 7, 10_000, 1_000, "scholar")  # 0.045
    with ledger.session("e2", user_id="u_e1", tier="explorer", mode="combined") as s:
        llm(s, 9, 500, 50, "scholar", ("anthropic", "claude-unknown-x"))  # unpriced: not measured
    with ledger.session("x1", user_id="u_x1", tier="expert", mode="expert_session") as s:
        llm(s, 8, 10_000, 1_000, "notetaker")  # 0.045, plus the expert's $60
    ledger.record_many([
        {"service": "stripe", "model": "card", "operation": "payment", "usage": {"amount_usd": "29"},
         "user_id": "u_c1", "tier": "creator", "ts": at(1, 6)},
        {"service": "stripe", "model": "card", "operation": "payment", "usage": {"amount_usd": "29"},
         "user_id": "u_c2", "tier": "creator", "ts": at(1, 6)},
        {"service": "stripe", "model": "card", "operation": "refund", "usage": {"amount_usd": "29"},
         "user_id": "u_c2", "tier": "creator", "ts": at(20, 6)},
        {"service": "stripe", "model": "card", "operation": "payment", "usage": {"amount_usd": "79"},
         "user_id": "u_x1", "tier": "expert", "ts": at(8, 6)},
    ])  # fmt: skip


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


@pytest.fixture
def october(tmp_path: Path, config: Config) -> Iterator[Ledger]:
    with Ledger(tmp_path / "october.db", config=config) as ledger:
        record_october(ledger)
        yield ledger


@pytest.fixture
def october_pg(pg_url: str, config: Config) -> Iterator[Ledger]:
    with Ledger(pg_url, config=config) as ledger:
        record_october(ledger)
        yield ledger
