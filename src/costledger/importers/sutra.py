"""`sutra-jsonl`: one JSON session record per line, as the per-session JSONL tracker
writes it (`costs-YYYY-MM-DD.jsonl`), each with its `usages`.

Its quirks, handled here:
- costs are floats: they become decimals through their shortest text (0.03249 stays 0.03249);
- `livekit` rows carry the *room's* seconds in `audio_seconds` and no model, and the
  tracker priced them as if 2 participants were in the room. LiveKit bills
  participant-minutes, so we record participant_minutes = seconds / 60 × participants,
  with participants = 2 by default (the tracker's own assumption; `--participants N`
  when your rooms had more). The room seconds and the assumption stay in the metadata.
- a reading the service does not bill (a TTS row's audio length) goes to the metadata;
- the model is in `metadata.model`; the session record's `council_mode` is the mode and
  `agent_name` the agent (the usages name no agent of their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import Options, Parsed, SessionSpan, json_lines, money_text, stable_id, timestamp

# The meters a sutra usage row may carry, in costledger's names.
_METERS = ("input_tokens", "output_tokens", "audio_seconds", "characters")
# What each service bills; the tracker's other readings (a TTS row's audio length, say)
# go to the metadata rather than becoming a meter the price entry has no rate for.
_BILLED = {
    "anthropic": ("input_tokens", "output_tokens"),
    "openai": ("input_tokens", "output_tokens"),
    "google": ("input_tokens", "output_tokens"),
    "deepgram": ("audio_seconds",),
    "cartesia": ("characters",),
    "livekit": ("audio_seconds",),
}
FILES = r"(.*-)?costs-\d{4}-\d{2}-\d{2}\.jsonl"


def read(path: Path, options: Options) -> Iterator[Parsed]:
    for number, record, error in json_lines(path):
        if error is not None:
            yield Parsed(number, error=error)
            continue
        try:
            yield _session(number, record, options)
        except (ValueError, TypeError, KeyError) as exc:
            yield Parsed(number, error=_reason(exc))


def _reason(exc: Exception) -> str:
    return f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)


def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if value in (None, "") else str(value)


def _session(number: int, record: Any, options: Options) -> Parsed:
    if not isinstance(record, dict):
        raise ValueError("a line must be one JSON session record (an object)")
    session_id = _text(record, "session_id")
    if session_id is None:
        raise KeyError("session_id")
    usages = record.get("usages")
    if not isinstance(usages, list):
        raise ValueError("usages must be a list")
    fields = {"user_id": _text(record, "user_id"), "tier": _text(record, "tier"), "mode": _text(record, "council_mode")}
    common = {"session_id": session_id, "agent": _text(record, "agent_name"), **fields}
    room = _text(record, "room_name")
    events = [_usage(i, usage, common, room, options) for i, usage in enumerate(usages)]
    spans = []
    if record.get("started_at") and record.get("ended_at"):
        spans.append(SessionSpan(session_id, timestamp(record["started_at"], "started_at"),
                                 timestamp(record["ended_at"], "ended_at"), fields))  # fmt: skip
    return Parsed(number, events=events, spans=spans)


def _usage(index: int, usage: Any, common: dict[str, Any], room: str | None, options: Options) -> dict[str, Any]:
    where = f"usages[{index}]"
    if not isinstance(usage, dict):
        raise ValueError(f"{where} must be an object")
    service = usage.get("service")
    if not isinstance(service, str) or not service:
        raise ValueError(f"{where}.service is missing")
    meta = usage.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{where}.metadata must be an object")
    meters: dict[str, Any] = {}
    for name in _METERS:
        value = usage.get(name)
        if value not in (None, 0, 0.0):
            meters[name] = str(value) if isinstance(value, float) else value
    metadata: dict[str, Any] = {k: v for k, v in meta.items() if k != "model"}
    for name in set(meters) - set(_BILLED.get(service.lower(), _METERS)):
        metadata[name] = meters.pop(name)
    if room:
        metadata["room_name"] = room
    if service.lower() == "livekit" and "audio_seconds" in meters:
        seconds = Decimal(str(meters.pop("audio_seconds")))
        meters["participant_minutes"] = seconds * options.participants / 60
        metadata.update(room_seconds=str(seconds), participants_assumed=str(options.participants))
    return {
        "event_id": stable_id("sutra", common["session_id"], index, usage),
        "ts": timestamp(usage.get("timestamp"), f"{where}.timestamp"),
        "service": service,
        "model": meta.get("model"),
        "operation": usage.get("operation"),
        "usage": meters,
        "recorded_cost_usd": money_text(usage.get("estimated_cost_usd"), f"{where}.estimated_cost_usd"),
        **common,
        "metadata": metadata,
    }
