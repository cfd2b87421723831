"""Realistic ledgers for the read benchmarks, built once through the real write path and cached.

Every event goes through `Ledger.record_many` in batches of 1,000 (validation, pricing from the
catalog, rollups, sessions, session costs, period totals: whatever the store keeps on write), so
every aggregate a read uses is the one production would have, whatever the schema is.

The workload is a voice/text agent product at scale: users on five tiers whose activity is
heavy-tailed (a few users make many sessions), seven session modes (voice companions, councils of
several agents, workshops, text chat, an API, phone calls, realtime voice), 46 agents on eight LLM
models (with prompt-cache reads and writes, web searches), STT, TTS, LiveKit room legs and Twilio
phone minutes, Stripe payments for the margins, tags, and 0.2 % of LLM calls on a model no catalog
knows (unpriced). Sessions scale with the size: one per ~20 events, spread over the DAYS days up to
the pinned clock instant (growing over the window, quieter on weekends, busy afternoons); users
scale too (one per 200 events). Deterministic: the same size, generator version and instant make
the same events.

Cache: COSTLEDGER_BENCH_DIR (default .bench/ in the repository), one SQLite file per size, named
by the size, GENERATOR and the schema's migration head. A ledger of more than 1M events at an
older head is migrated by opening it (the store upgrades itself) and renamed, which is half an
hour faster than a rebuild and is said in the output; smaller ones, and all of them with
COSTLEDGER_BENCH_REBUILD=1, are rebuilt, so their files are what the write path makes. The clock is COSTLEDGER_NOW when
set (it is part of the cache name), else DEFAULT_NOW: the data never depends on the wall clock.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from costledger import clock

GENERATOR = 1  # bump when the workload changes: cached ledgers of another version are not reused
DEFAULT_NOW = "2026-11-23T18:00:00Z"
DAYS = 90
BATCH = 1000
EVENTS_PER_SESSION = 11.5  # what the modes below make on average: about 25,000 sessions a month at 1M events
EVENTS_PER_USER = 200
MIGRATE_ABOVE = 1_000_000  # a cached ledger at an older schema is migrated above this size, rebuilt up to it
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
ROOT = Path(__file__).resolve().parent.parent

SONNET, HAIKU = ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5")
OPUS = ("anthropic", "claude-opus-4-1")
GPT4O, GPT4O_MINI, GPT41_MINI = ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1-mini")
GEMINI, REALTIME = ("google", "gemini-2.5-flash"), ("openai", "gpt-4o-realtime-preview")
EMBEDDING = ("openai", "text-embedding-3-small")
UNKNOWN = ("anthropic", "claude-experimental-0901")  # in no catalog: unpriced
STT, TTS, TTS_ALT = ("deepgram", "nova-3-streaming"), ("cartesia", "sonic-3"), ("elevenlabs", "eleven_flash_v2_5")
ROOM, PHONE = ("livekit", "cloud"), ("twilio", "voice-inbound")

# Agents and the model each runs on; some route between two (a cheap model for short turns).
COMPANIONS = {f"companion-{n}": (SONNET, HAIKU) for n in ("ava", "ben", "cleo", "dev", "eli", "fay", "gus", "hal")}
COUNCIL = {name: (model,) for name, model in zip(
    ("civil-rights", "labor", "privacy", "children", "disability", "environment", "indigenous", "speech",
     "economist", "scientist", "engineer", "physician", "lawyer", "strategist", "historian", "ethicist"),
    (SONNET, SONNET, GPT4O, SONNET, HAIKU, GPT4O, SONNET, OPUS, GPT4O, SONNET, SONNET, OPUS, GPT4O, SONNET,
     GEMINI, HAIKU), strict=True)}  # fmt: skip
ASSISTANTS = {f"assistant-{n}": (model, GPT4O_MINI) for n, model in
              (("writer", HAIKU), ("coder", SONNET), ("tutor", GEMINI), ("planner", GPT41_MINI),
               ("support", HAIKU), ("search", GPT4O))}  # fmt: skip
ANALYSTS = {f"analyst-{n}": (m,) for n, m in (("market", GPT4O), ("risk", SONNET), ("legal", SONNET),
            ("tax", GPT41_MINI), ("ops", HAIKU), ("data", GEMINI), ("pricing", GPT4O_MINI),
            ("brand", HAIKU))}  # fmt: skip
RECEPTIONISTS = {f"receptionist-{n}": (HAIKU, GPT4O_MINI) for n in ("main", "after-hours", "spanish")}
REALTIME_AGENTS = {f"realtime-{n}": (REALTIME,) for n in ("concierge", "coach", "interviewer", "translator")}
SYNTHESIZER = {"synthesizer": (SONNET,)}
# Around the conversational agents: a guard screens what users say, a memory agent embeds it.
HELPERS = {"guard": (HAIKU,), "memory": (EMBEDDING,)}
AGENTS = {**COMPANIONS, **COUNCIL, **ASSISTANTS, **ANALYSTS, **RECEPTIONISTS, **REALTIME_AGENTS, **SYNTHESIZER,
          **HELPERS}  # fmt: skip


@dataclass(frozen=True)
class Tier:
    name: str
    share: float  # of the users
    activity: float  # sessions per user, relative
    modes: dict[str, float]  # mode → weight
    monthly_usd: Decimal  # the subscription, paid through Stripe on the day they joined


TIERS = (
    Tier("free", 0.55, 0.5, {"text_chat": 5, "companion": 3, "realtime": 1}, Decimal(0)),
    Tier("starter", 0.22, 1.0, {"companion": 4, "council": 2, "text_chat": 3, "phone_call": 1}, Decimal(19)),
    Tier("pro", 0.13, 2.0, {"council": 4, "workshop": 2, "companion": 2, "realtime": 2, "phone_call": 1}, Decimal(79)),
    Tier("team", 0.07, 3.0, {"workshop": 3, "council": 3, "phone_call": 2, "text_chat": 2}, Decimal(299)),
    Tier("api", 0.03, 4.0, {"api": 1}, Decimal(0)),
)
MODES = ("companion", "council", "workshop", "text_chat", "api", "phone_call", "realtime")
REGIONS = ("us-east", "us-west", "eu-west", "ap-south")

CONFIG = """\
# Written by bench/_ledgers.py: the plans, session types and fixed costs of the benchmark workload.
[[fixed_costs]]
name = "agent servers"
monthly_usd = "900"
since = 2026-01-01

[[fixed_costs]]
name = "database"
monthly_usd = "250"
since = 2026-01-01

[[plans]]
name = "free"
price_usd = "0"
period = "month"
included_sessions = 20

[[plans]]
name = "starter"
price_usd = "19"
period = "month"
included_sessions = 60

[[plans]]
name = "pro"
price_usd = "79"
period = "month"
included_sessions = 200

[[plans]]
name = "team"
price_usd = "299"
period = "month"
included_sessions = 800

[[plans]]
name = "api"
price_usd = "0.40"
period = "call"
modes = ["api"]
{session_types}
[[alerts]]
kind = "session_total"
threshold_usd = "5"

[[alerts]]
kind = "daily_total"
threshold_usd = "{daily}"
"""
SESSION_TYPES = {"companion": ("1", "0.20", "0.45"), "council": ("7", "0.60", "1.20"),
                 "workshop": ("13", "1.50", "3.00"), "text_chat": ("1", "0.02", "0.10"), "api": ("6", "0.15", "0.40"),
                 "phone_call": ("1", "0.10", "0.30"), "realtime": ("1", "0.80", "2.00")}  # fmt: skip


def now() -> dt.datetime:
    """The instant the ledgers end at: $COSTLEDGER_NOW, else DEFAULT_NOW (never the wall clock)."""
    return clock.parse_instant(os.environ.get(clock.ENV) or DEFAULT_NOW)


def pin_clock() -> dt.datetime:
    """Pin this process's clock (and, through the environment, the servers it starts) to now()."""
    instant = now()
    os.environ[clock.ENV] = instant.isoformat().replace("+00:00", "Z")
    clock.set_clock(instant)
    return instant


def sizes(default: str = "10k,1M,10M") -> list[tuple[str, int]]:
    labels = [s.strip() for s in os.environ.get("COSTLEDGER_BENCH_SIZES", default).split(",") if s.strip()]
    unknown = [s for s in labels if s not in SIZES]
    if unknown:
        raise SystemExit(f"unknown size {unknown[0]!r} in COSTLEDGER_BENCH_SIZES; choose from {', '.join(SIZES)}")
    return [(label, SIZES[label]) for label in labels]


def folder() -> Path:
    path = Path(os.environ.get("COSTLEDGER_BENCH_DIR") or ROOT / ".bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_path(n: int) -> Path:
    """The workload's costledger.toml; the daily alert threshold scales with the size, so a few days fire."""
    lines = [f'\n[[session_types]]\nmode = "{mode}"\nagents = {agents}\nestimate_usd = ["{low}", "{high}"]\n'
             for mode, (agents, low, high) in SESSION_TYPES.items()]  # fmt: skip
    path = folder() / f"costledger-{n}.toml"
    text = CONFIG.format(session_types="".join(lines), daily=max(5, n // 6000))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


# -- the workload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str
    tier: Tier
    weight: float  # how active: heavy-tailed
    joined: int  # day of the month the subscription renews


def make_users(n: int) -> list[User]:
    rng = random.Random(f"bench-users:{GENERATOR}:{n}")
    count = max(40, n // EVENTS_PER_USER)
    shares = [t.share for t in TIERS]
    chosen = [rng.choices(TIERS, shares)[0] for _ in range(count)]
    return [User(f"user-{k:06d}", tier, tier.activity * min(30.0, rng.paretovariate(1.3)), rng.randint(1, 28))
            for k, tier in enumerate(chosen)]  # fmt: skip


def _session_events(
    rng: random.Random, session_id: str, start: dt.datetime, user: User, mode: str
) -> list[dict[str, Any]]:
    """The events of one session, in time order."""
    region = REGIONS[int(user.user_id[-2:]) % len(REGIONS)]
    common = {"session_id": session_id, "user_id": user.user_id, "tier": user.tier.name, "mode": mode,
              "tags": {"env": "prod", "region": region, "app": f"2.{(start.toordinal() // 14) % 9}"}}  # fmt: skip
    calls: list[tuple[str, str]] = []  # (agent, operation)
    voice, minutes = True, 5.0
    if mode == "companion":
        calls = [(rng.choice(list(COMPANIONS)), "llm_completion")] * rng.randint(4, 10)
        minutes = rng.uniform(3, 12)
    elif mode in ("council", "workshop"):
        members = rng.sample(list(COUNCIL), 6 if mode == "council" else 12)
        rounds = 1
        calls = [(a, "deliberation") for _ in range(rounds) for a in members] + [("synthesizer", "synthesis")]
        minutes = rng.uniform(6, 12) if mode == "council" else rng.uniform(15, 40)
    elif mode == "text_chat":
        calls = [(rng.choice(list(ASSISTANTS)), "llm_completion")] * rng.randint(2, 12)
        voice, minutes = False, rng.uniform(1, 20)
    elif mode == "api":
        calls = [(a, "deliberation") for a in rng.sample(list(ANALYSTS), 5)] + [("synthesizer", "synthesis")]
        voice, minutes = False, rng.uniform(0.3, 2)
    elif mode == "phone_call":
        calls = [(rng.choice(list(RECEPTIONISTS)), "llm_completion")] * rng.randint(4, 12)
        minutes = rng.uniform(1, 9)
    else:  # realtime
        calls = [(rng.choice(list(REALTIME_AGENTS)), "realtime_response")] * rng.randint(3, 12)
        minutes = rng.uniform(3, 15)
    if mode in ("companion", "text_chat", "phone_call"):
        calls = [("memory", "embedding"), *calls[:2], ("guard", "moderation"), *calls[2:]]
    seconds = minutes * 60
    out: list[dict[str, Any]] = []

    def event(what: tuple[str, str], at: float, usage: dict[str, Any], **fields: Any) -> None:
        service, model = what
        ts = start + dt.timedelta(seconds=round(at, 3))
        out.append({"event_id": f"{session_id}:{len(out):03d}", "ts": ts, "service": service, "model": model,
                    "usage": usage, **common, **fields})  # fmt: skip

    spoken = 0
    for i, (agent, operation) in enumerate(calls):
        at = seconds * (i + 1) / (len(calls) + 2)
        models = AGENTS[agent]
        model = models[0] if len(models) == 1 or rng.random() < 0.7 else models[1]
        if rng.random() < 0.002:
            model = UNKNOWN
        if model == EMBEDDING:
            usage: dict[str, Any] = {"input_tokens": rng.randint(200, 3000)}
        elif model == REALTIME:
            audio_in, audio_out = rng.randint(200, 2500), rng.randint(150, 1800)
            text_in = rng.randint(500, 4000)
            usage = {"input_tokens": audio_in + text_in, "input_audio_tokens": audio_in,
                                     "output_tokens": audio_out + 60, "output_audio_tokens": audio_out}  # fmt: skip
            spoken += audio_out
        else:
            context = rng.randint(2500, 9000) + 400 * i
            output = rng.randint(120, 700) if operation != "synthesis" else rng.randint(900, 1600)
            usage = {"input_tokens": context, "output_tokens": output}
            if i and model[0] == "anthropic":
                usage["cache_read_tokens"] = int(context * rng.uniform(0.5, 0.85))
            elif model[0] == "anthropic":
                usage["cache_write_tokens"] = int(context * 0.6)
            elif i and model[0] == "openai":
                usage["cache_read_tokens"] = int(context * rng.uniform(0.3, 0.7)) // 128 * 128
            if model[0] == "anthropic" and operation == "deliberation" and rng.random() < 0.1:
                usage["web_searches"] = rng.randint(1, 3)
            spoken += output * 4
        event(model, at, usage, agent=agent, operation=operation,
              endpoint="/v1/deliberate" if mode == "api" else None)  # fmt: skip
    end = seconds
    if voice and mode != "realtime":
        event(STT, end, {"audio_seconds": round(seconds * rng.uniform(0.35, 0.55), 1)}, operation="stt")
        event(TTS if rng.random() < 0.7 else TTS_ALT, end, {"characters": max(1, spoken)}, operation="tts")
    if voice:
        legs = {"agent": {"agent_session_minutes": round(minutes, 2)}}
        legs["user"] = {"sip_minutes" if mode == "phone_call" else "webrtc_minutes": round(minutes, 2)}
        for leg, usage in legs.items():
            event(ROOM, end, usage, operation="room", tags={**common["tags"], "connection": leg})
    if mode == "phone_call":
        event(PHONE, end, {"phone_minutes": round(minutes, 2)}, operation="call")
    return out


def _payments(
    seed: str, day: dt.date, people: list[User], at: dt.datetime, end: dt.datetime
) -> Iterator[dict[str, Any]]:
    from costledger.demo_webhooks import charge, payer, payment_events

    for user in people:
        if user.tier.monthly_usd and day.day == user.joined:
            paid = charge(f"ch_{seed}_{user.user_id}_{day:%Y%m%d}", at, user.tier.monthly_usd,
                          payer(7, user.user_id, user.tier.name), user.user_id, user.tier.name)  # fmt: skip
            yield from payment_events(7, paid, end)  # a refund or dispute after `end` has not happened


def workload(n: int, end: dt.datetime) -> Iterator[dict[str, Any]]:
    """About `n` events over the DAYS days up to `end`, oldest day first; nothing after `end`."""
    people = make_users(n)
    activity = [u.weight for u in people]
    first = end.date() - dt.timedelta(days=DAYS - 1)
    days = [first + dt.timedelta(days=k) for k in range(DAYS)]
    shape = [(0.6 + 0.8 * k / (DAYS - 1)) * (0.65 if d.weekday() >= 5 else 1.0) for k, d in enumerate(days)]
    # Today is only partly over: its share of sessions is for the whole day, those after `end` drop out.
    total = n / EVENTS_PER_SESSION
    seed = f"b{GENERATOR}n{n}"
    for day, weight in zip(days, shape, strict=True):
        rng = random.Random(f"bench:{seed}:{day.isoformat()}")
        yield from _payments(seed, day, people, dt.datetime.combine(day, dt.time(6), dt.UTC), end)
        count = round(total * weight / sum(shape))
        chosen = rng.choices(people, activity, k=count)
        starts = sorted(
            (dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(hours=min(23.99, max(0.0, rng.gauss(15, 4.5)))),
             user.user_id, user) for user in chosen
        )  # fmt: skip
        for k, (start, _, user) in enumerate(starts):
            mode = rng.choices(list(user.tier.modes), list(user.tier.modes.values()))[0]
            events = _session_events(rng, f"s{day:%Y%m%d}-{k:05d}", start, user, mode)
            if max(e["ts"] for e in events) > end:  # not over yet
                continue
            yield from events


# -- building and caching ---------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    label: str
    path: Path
    config: Path
    events: int
    sessions: int
    rollup_rows: int
    note: str  # how it came to be: built now (with the time), cached, migrated

    @property
    def rows_per_event(self) -> float:
        return self.rollup_rows / max(1, self.events)

    def describe(self) -> str:
        return (
            f"[{self.label}: {self.events:,} events, {self.sessions:,} sessions, {self.rollup_rows:,} rollup rows = "
            f"{self.rows_per_event:.2f} per event (the issue's realistic workload: 0.64); {self.note}]"
        )


def _head() -> str:
    from costledger.store.migrate import numbered_head

    return numbered_head()


def _name(label: str, revision: str) -> str:
    return f"ledger-{label}-g{GENERATOR}-{now():%Y%m%dT%H%M%S}-r{revision}.db"


def _stamped(path: Path) -> str | None:
    with sqlite3.connect(path) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _move(source: Path, target: Path) -> None:
    """Rename a ledger file, its WAL folded in first (a server that read it leaves one)."""
    connection = sqlite3.connect(source)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    source.rename(target)
    for suffix in ("-wal", "-shm"):
        Path(f"{source}{suffix}").unlink(missing_ok=True)


def _counts(path: Path) -> tuple[int, int, int]:
    with sqlite3.connect(path) as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("events", "sessions", "rollup_daily")
        )


def build(label: str, n: int, target: Path) -> tuple[float, int]:
    """Record the workload into a new file at `target` through record_many: (seconds taken, events resumed at).

    A build cut short (10M events take most of an hour) resumes: its batches were committed in the
    workload's order, so the events stored are the workload's first ones; the file is named without
    the schema revision, as opening it migrates it. Should the count be off, record_many's idempotency
    skips what is already there.
    """
    from itertools import islice

    from costledger import Ledger

    partial = folder() / f"ledger-{label}-g{GENERATOR}-{now():%Y%m%dT%H%M%S}.building"
    resumed = 0
    if partial.exists():
        with sqlite3.connect(partial) as connection:
            resumed = int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
        print(f"  [{label}: resuming a build cut short at {resumed:,} events]", flush=True)
    end = now()
    started = time.perf_counter()
    done = resumed
    # No config: its plans and session types only shape reads, and its alert rules would make the build
    # time the alert checks (bench/alerts.py does). The servers read the config.
    with Ledger(partial) as ledger:
        batch: list[dict[str, Any]] = []
        for event in islice(workload(n, end), resumed, None):
            batch.append(event)
            if len(batch) == BATCH:
                ledger.record_many(batch)
                done += BATCH
                batch = []
                if done % 500_000 < BATCH:
                    rate = (done - resumed) / (time.perf_counter() - started)
                    print(f"  [{label}: {done:,} events recorded, {rate:,.0f}/s]", flush=True)
        if batch:
            ledger.record_many(batch)
        with ledger.store.engine.connect() as connection:  # one file to rename: the WAL folded in
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _move(partial, target)
    return time.perf_counter() - started, resumed


def ledger(label: str, n: int) -> Built:
    """The cached ledger of `label` at the current schema head: reused, migrated from an older head, or built."""
    head, config = _head(), config_path(n)
    target = folder() / _name(label, head)
    note = "cached"
    if target.exists() and os.environ.get("COSTLEDGER_BENCH_REBUILD") == "1":
        target.unlink()
    if not target.exists():
        older = sorted(p for p in folder().glob(_name(label, "*"))
                       if (_stamped(p) or "9999") < head)  # fmt: skip
        # Up to 1M a rebuild takes minutes and gives the file the write path would: migrate only above.
        if older and n > MIGRATE_ABOVE and os.environ.get("COSTLEDGER_BENCH_REBUILD") != "1":
            source = older[-1]
            was = _stamped(source)
            started = time.perf_counter()
            _move(source, target)
            from costledger.store import Store

            Store(str(target)).close()  # opening upgrades it
            note = f"migrated from revision {was} to {head} in {time.perf_counter() - started:.1f} s (not rebuilt)"
        else:
            seconds, resumed = build(label, n, target)
            events = _counts(target)[0] - resumed
            note = (f"built now through record_many in batches of {BATCH:,}: {seconds:,.0f} s, "
                    f"{events / seconds:,.0f} events/s{f' (resumed at {resumed:,})' if resumed else ''}")  # fmt: skip
            for stale in older:  # the same workload at an older schema: superseded (a 1M ledger is 600 MB)
                for path in (stale, Path(f"{stale}-wal"), Path(f"{stale}-shm"), stale.with_suffix(".serve.log")):
                    path.unlink(missing_ok=True)
    events, sessions, rollups = _counts(target)
    return Built(label, target, config, events, sessions, rollups, f"{note}; schema {head}, generator {GENERATOR}")
