"""A realistic 90-day workload of a voice/text council product, for `costledger demo`.

Every event goes through the real pipeline (validation, pricing from the catalog,
storage with rollups): the demo shows what the product shows on real data.

Deterministic: the users come from the seed, and each day's sessions from the seed
and the date, so the same seed on the same day gives the same events. Event ids are
built from the seed, date and session, so running the demo again adds only what is
new (today's later sessions, a new day) and never counts anything twice.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import clock
from .demo_webhooks import charge, payer, payment_events, phone_call
from .ledger import Ledger, Recorded

LLM = ("anthropic", "claude-sonnet-4-20250514")
UNKNOWN_MODEL = ("anthropic", "claude-experimental-0901")  # no catalog knows it: shows up as unpriced
STT = ("deepgram", "nova-3")
TTS = ("cartesia", "sonic-3")
ROOM = ("livekit", "cloud")

RIGHTS_COUNCIL = ("civil_rights", "labor", "privacy", "children", "disability", "environment", "indigenous", "speech")
EXPERT_COUNCIL = ("economist", "scientist", "engineer", "physician", "lawyer", "strategist")
SYNTHESIS = "synthesizer"


@dataclass(frozen=True)
class Mode:
    """One session type of the product: how long it lasts, who speaks, what it runs on."""

    name: str
    agents: tuple[str, ...]
    minutes: float  # typical length; voice sessions pay STT, TTS and the room for it
    voice: bool
    rounds: int = 1  # deliberation rounds: each agent speaks once per round
    synthesis: bool = False
    turns: int = 0  # back-and-forth turns of a one-agent conversation


MODES = {
    m.name: m
    for m in (
        Mode("single_agent_voice", ("companion",), minutes=5, voice=True, turns=10),
        Mode("rights_council", RIGHTS_COUNCIL, minutes=8, voice=True, rounds=2),
        Mode("expert_council", EXPERT_COUNCIL, minutes=7, voice=True, rounds=2),
        Mode("combined_council", RIGHTS_COUNCIL + EXPERT_COUNCIL, minutes=12, voice=True, rounds=2, synthesis=True),
        Mode("expert_session", ("notetaker",), minutes=30, voice=True, turns=3),
        Mode("phone_call", ("receptionist",), minutes=5, voice=True, turns=8),
        Mode("api_deliberation", EXPERT_COUNCIL, minutes=1, voice=False, rounds=1, synthesis=True),
    )
}


@dataclass(frozen=True)
class Tier:
    name: str
    share: float  # of the user base
    sessions_per_day: float  # per active user
    modes: dict[str, float]  # mode → weight


TIERS = (
    Tier("explorer", 0.50, 0.06, {"single_agent_voice": 6, "phone_call": 3, "rights_council": 1}),
    Tier("creator", 0.25, 0.22, {"single_agent_voice": 4, "rights_council": 3, "expert_council": 3, "phone_call": 2}),
    Tier("professional", 0.13, 0.35, {"combined_council": 4, "expert_council": 3, "rights_council": 2,
                                      "single_agent_voice": 1}),
    Tier("expert_session", 0.07, 0.05, {"expert_session": 1}),
    Tier("api", 0.05, 1.6, {"api_deliberation": 1}),
)  # fmt: skip

# What the plans charge (Stripe): monthly subscriptions, per expert session, API calls billed monthly.
MONTHLY = {"creator": Decimal("29"), "professional": Decimal("99")}
EXPERT_SESSION_PRICE = Decimal("79")
API_CALL_PRICE = Decimal("0.50")

CONFIG = """\
# Written by `costledger demo`: the demo's ledger, and the plans, fixed costs and
# session-type estimates of the demo product. Edit freely; the demo rewrites this
# file only while this first line is unchanged.
{database}
[[fixed_costs]]
name = "agent server"
vendor = "railway"
monthly_usd = "20"
since = {since}

[[fixed_costs]]
name = "voice workers"
vendor = "fly.io"
monthly_usd = "45"
since = {since}

[[fixed_costs]]
name = "database"
vendor = "neon"
monthly_usd = "19"
since = {since}

[[plans]]
name = "explorer"
price_usd = "0"
period = "month"
included_sessions = 10

[[plans]]
name = "creator"
price_usd = "29"
period = "month"
included_sessions = 100

[[plans]]
name = "professional"
price_usd = "99"
period = "month"
included_sessions = 400

[[plans]]
name = "expert_session"
price_usd = "79"
period = "session"
modes = ["expert_session"]

[[plans]]
name = "api"
price_usd = "0.50"
period = "call"
modes = ["api_deliberation"]

[[session_types]]
mode = "single_agent_voice"
agents = 1
estimate_usd = ["0.40", "0.70"]

[[session_types]]
mode = "rights_council"
agents = 8
estimate_usd = ["0.60", "1.00"]

[[session_types]]
mode = "expert_council"
agents = 6
estimate_usd = ["0.30", "0.55"]

[[session_types]]
mode = "combined_council"
agents = 15
estimate_usd = ["1.00", "1.65"]

[[session_types]]
mode = "expert_session"
agents = 1
estimate_usd = ["61.50", "62.60"]
extra_cost_usd = "60"

[[session_types]]
mode = "phone_call"
agents = 1
estimate_usd = ["0.35", "0.65"]

[[session_types]]
mode = "api_deliberation"
agents = 7
estimate_usd = ["0.10", "0.20"]
"""
CONFIG_MARKER = CONFIG.splitlines()[0]
# What the first line said before the config named its database: those files are the demo's too.
_OLD_MARKERS = ("# Written by `costledger demo` next to its database: the plans, fixed costs and",)


def written_by_demo(path: Path) -> bool:
    """Is `path` a costledger.toml the demo wrote and nobody has made their own?"""
    try:
        first = path.read_text(encoding="utf-8").splitlines()[:1]
    except OSError:
        return False
    return bool(first) and first[0] in (CONFIG_MARKER, *_OLD_MARKERS)


def write_config(path: Path, today: dt.date, days: int, database: str | None = None) -> bool:
    """Write the demo's costledger.toml (naming `database`, if given) unless the user made that file their own."""
    if path.exists() and not written_by_demo(path):
        return False
    since = today.replace(day=1) - dt.timedelta(days=days + 31)
    named = f"database = {_toml_string(database)}\n" if database else ""
    path.write_text(CONFIG.format(since=since.replace(day=1).isoformat(), database=named), encoding="utf-8")
    return True


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escaping is TOML's for these characters."""
    import json

    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class User:
    user_id: str
    tier: Tier
    joined: int  # day of month their subscription renews


def users(seed: int, count: int = 160) -> list[User]:
    rng = random.Random(f"costledger-demo-users:{seed}")
    weights = [t.share for t in TIERS]
    return [User(f"u{n:04d}", rng.choices(TIERS, weights)[0], rng.randint(1, 28)) for n in range(1, count + 1)]


def workload(seed: int = 7, days: int = 90, now: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """The events of `days` days up to `now` (UTC), oldest day first; nothing after `now`."""
    now = (now or clock.now()).astimezone(dt.UTC)
    people = users(seed)
    api_calls: Counter[tuple[str, str]] = Counter()  # (user, yyyy-mm) → calls, billed on the 1st
    first = now.date() - dt.timedelta(days=days - 1)
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        rng = random.Random(f"costledger-demo:{seed}:{day.isoformat()}")
        # The product grows over the window, and weekends are quieter.
        growth = 0.6 + 0.8 * offset / max(days - 1, 1)
        weekday = 0.65 if day.weekday() >= 5 else 1.0
        yield from _payments(seed, day, people, api_calls, now)
        sessions: list[tuple[dt.datetime, User, Mode]] = []
        for user in people:
            expected = user.tier.sessions_per_day * growth * weekday
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(count):
                mode = MODES[rng.choices(list(user.tier.modes), list(user.tier.modes.values()))[0]]
                # Busy afternoons (UTC), quiet nights.
                hour = min(23.99, max(0.0, rng.gauss(15, 4.5)))
                start = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(hours=hour)
                sessions.append((start, user, mode))
        sessions.sort(key=lambda s: (s[0], s[1].user_id))
        for n, (start, user, mode) in enumerate(sessions):
            session_id = f"demo{seed}-{day:%Y%m%d}-{n:03d}"
            # Every third day, the day's first session tries a model no catalog knows yet: whatever the
            # dates, any demo of three days or more shows unpriced events (and their alerts).
            trial = n == 0 and day.toordinal() % 3 == 0
            events = list(_session(rng, session_id, start, user, mode, trial))
            if max(e["ts"] for e in events) > now:
                continue  # not over yet: a later run records it
            if mode.name == "api_deliberation":
                api_calls[(user.user_id, f"{day:%Y-%m}")] += 1
            if mode.name == "expert_session":
                # Paid per session when booked. Not part of the session: its Stripe fee is a
                # payment fee in the margins, not a cost of running the session.
                paid = charge(f"ch_{session_id}", start, EXPERT_SESSION_PRICE,
                              payer(seed, user.user_id, user.tier.name), user.user_id, "expert_session")  # fmt: skip
                yield from payment_events(seed, paid, now)
            yield from events


def _payments(
    seed: int, day: dt.date, people: list[User], api_calls: Counter[tuple[str, str]], now: dt.datetime
) -> Iterator[dict[str, Any]]:
    at = dt.datetime.combine(day, dt.time(6, 0), dt.UTC)
    if at > now:
        return
    for user in people:
        tier = user.tier.name
        amount: Decimal | None = None
        if tier in MONTHLY and day.day == user.joined:
            amount = MONTHLY[tier]
        elif tier == "api" and day.day == 1:
            previous = f"{day - dt.timedelta(days=1):%Y-%m}"
            calls = api_calls.get((user.user_id, previous), 0)
            amount = API_CALL_PRICE * calls if calls else None
        if amount:
            # Paid through Stripe, recorded from its webhooks (costledger.demo_webhooks).
            paid = charge(f"ch_demo{seed}_{user.user_id}_{day:%Y%m%d}", at, amount, payer(seed, user.user_id, tier),
                          user.user_id, tier)  # fmt: skip
            yield from payment_events(seed, paid, now)


def _event(
    event_id: str, ts: dt.datetime, what: tuple[str, str], usage: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    service, model = what
    return {"event_id": event_id, "ts": ts, "service": service, "model": model, "usage": usage, **fields}


def _session(
    rng: random.Random, session_id: str, start: dt.datetime, user: User, mode: Mode, trial: bool = False
) -> Iterator[dict[str, Any]]:
    common: dict[str, Any] = {"session_id": session_id, "user_id": user.user_id, "tier": user.tier.name,
                              "mode": mode.name, "tags": {"env": "demo"}}  # fmt: skip
    minutes = max(0.5, rng.gauss(mode.minutes, mode.minutes * 0.2))
    seconds = minutes * 60
    counter = iter(range(10_000))

    def event(what: tuple[str, str], at: float, usage: dict[str, Any], **fields: Any) -> dict[str, Any]:
        ts = start + dt.timedelta(seconds=round(at, 3))
        return _event(f"{session_id}:{next(counter):03d}", ts, what, usage, **{**common, **fields})

    calls: list[tuple[str, str]] = []  # (agent, operation), spread over the session in order
    if mode.turns:
        calls = [(mode.agents[0], "llm_completion")] * mode.turns
    for _ in range(mode.rounds):
        calls += [(agent, "deliberation") for agent in mode.agents]
    if mode.synthesis:
        calls.append((SYNTHESIS, "synthesis"))
    unknown_at = rng.randrange(len(calls)) if trial else -1
    spoken = 0
    for i, (agent, operation) in enumerate(calls):
        context = rng.randint(4000, 9000) + 600 * i // max(1, len(mode.agents))
        cached = int(context * rng.uniform(0.55, 0.85)) if i else 0  # the first call writes the cache
        output = rng.randint(250, 700) if operation != "synthesis" else rng.randint(900, 1600)
        usage: dict[str, Any] = {"input_tokens": context, "output_tokens": output, "cache_read_tokens": cached}
        if i == 0:
            usage["cache_write_tokens"] = int(context * 0.6)
        if agent in EXPERT_COUNCIL and rng.random() < 0.15:
            usage["web_searches"] = rng.randint(1, 3)
        spoken += output * 4
        what = UNKNOWN_MODEL if i == unknown_at else LLM
        yield event(what, seconds * (i + 1) / (len(calls) + 1), usage, agent=agent, operation=operation,
                    endpoint="/v1/deliberate" if not mode.voice else None)  # fmt: skip
    if mode.voice:
        # What was said is transcribed (the user's side) and what the agents say is voiced.
        yield event(STT, seconds, {"audio_seconds": round(seconds * rng.uniform(0.35, 0.55), 1)}, operation="stt")
        characters = spoken if mode.name != "expert_session" else rng.randint(800, 2000)
        yield event(TTS, seconds, {"characters": characters}, operation="tts")
        # LiveKit bills each connection to the room by the minute, rounded up: the agent's session,
        # the user (over SIP on a phone call, WebRTC otherwise) and, in expert sessions, the expert.
        on_call = round(minutes, 2)
        yield event(ROOM, seconds, {"agent_session_minutes": on_call}, operation="room", tags={**common["tags"],
                    "connection": "agent"})  # fmt: skip
        user_leg = "sip_minutes" if mode.name == "phone_call" else "webrtc_minutes"
        yield event(ROOM, seconds, {user_leg: on_call}, operation="room", tags={**common["tags"], "connection": "user"})
        if mode.name == "expert_session":
            yield event(ROOM, seconds, {"webrtc_minutes": on_call}, operation="room",
                        tags={**common["tags"], "connection": "expert"})  # fmt: skip
    if mode.name == "phone_call":
        # The caller's phone leg, billed by Twilio and reported by its status callback.
        call = phone_call({"session_id": session_id, **common}, start + dt.timedelta(seconds=round(seconds)), seconds)
        if call is not None:
            yield call


def record_workload(
    ledger: Ledger,
    seed: int = 7,
    days: int = 90,
    now: dt.datetime | None = None,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> Recorded:
    """Record the workload in batches; returns what was stored (a re-run stores nothing it already has).

    `progress(days_done, days)` is called after each batch, and once at the end.
    """
    now = (now or clock.now()).astimezone(dt.UTC)
    first = now.date() - dt.timedelta(days=days - 1)
    total = Recorded(0, 0, 0, Decimal(0))
    pending: list[dict[str, Any]] = []
    for event in workload(seed, days, now):
        pending.append(event)
        if len(pending) >= batch:
            total += ledger.record_many(pending)
            if progress is not None:  # the day of the last event: days are generated in order
                progress(min(days - 1, (pending[-1]["ts"].date() - first).days), days)
            pending = []
    if pending:
        total += ledger.record_many(pending)
    if progress is not None:
        progress(days, days)
    return total


__all__ = ["MODES", "TIERS", "Mode", "Tier", "record_workload", "users", "workload", "write_config", "written_by_demo"]
