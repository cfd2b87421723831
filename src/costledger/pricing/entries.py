"""Price entries: one effective-dated price of one service/model, and where it came from.

The packaged data file, corrections and the user's overrides share one format
(`parse_entry`), so a user can copy any built-in entry into costledger.toml and edit it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..money import usd
from .meters import STANDARD_METERS


@dataclass(frozen=True)
class Tiered:
    """A price that depends on the request's total input tokens ("long context").

    The cliff model providers use: above a threshold the tier's rate applies to all
    units of the request, not only to those above it.
    """

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...]  # (threshold in input tokens, price), ascending

    def at(self, input_tokens: int | Decimal) -> Decimal:
        for start, price in reversed(self.tiers):
            if input_tokens > start:
                return price
        return self.base


@dataclass(frozen=True)
class Rate:
    """`usd` buys `per` units of a meter (e.g. $3 per 1,000,000 input tokens)."""

    usd: Decimal | Tiered
    per: int = 1


# Precedence when several layers price the same model at the same time.
KINDS = ("genai-prices", "builtin", "correction", "override")


@dataclass(frozen=True)
class PriceEntry:
    service: str
    model: str
    rates: Mapping[str, Rate]
    source: str
    kind: str = "builtin"
    since: dt.date | None = None
    per_event_usd: Decimal = Decimal(0)
    aliases: tuple[str, ...] = ()
    default: bool = False  # prices events of this service that name no model
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    # The service tier this entry prices (None: standard); the service's plan it belongs to.
    service_tier: str | None = None
    plan: str | None = None
    # Where the price stands: "published" (the source page states it), "unconfirmed" (no public
    # page does: override it with what you pay), "genai-prices" (from its database).
    confidence: str = ""
    read: dt.date | None = None  # when the source was read
    granularity: str = ""  # how the provider bills, in words ("per second, rounded up per request")
    # Applied per event: each reading rounded up to a multiple of its increment (a connection to
    # whole minutes), the total rounded half-up to a multiple of round_usd (a card fee to the cent),
    # and no charge at all for an event whose readings are all zero (no fee without a charge).
    round_up: Mapping[str, Decimal] = field(default_factory=dict)
    round_usd: Decimal | None = None
    no_fee_on_zero: bool = False

    @functools.cached_property
    def plans(self) -> dict[tuple[str, ...], Any]:
        """How this entry prices each list of meter names it has seen (pricing/cost.py fills it)."""
        return {}

    @functools.cached_property
    def ref(self) -> str:
        """Which entry priced an event, as the ledger stores it (once per entry: every priced event asks)."""
        since = self.since.isoformat() if self.since else "always"
        tier = f"+{self.service_tier}" if self.service_tier else ""
        return f"{self.kind}:{self.service}/{self.model}@{since}{tier}"

    @property
    def precedence(self) -> int:
        return KINDS.index(self.kind)


_OTHER_SHORTHANDS: dict[str, tuple[str, int]] = {
    "web_searches_per_k": ("web_searches", 1000),
    "requests_per_k": ("requests", 1000),
    "audio_per_minute": ("audio_seconds", 60),
    "audio_per_hour": ("audio_seconds", 3600),
    "characters_per_k": ("characters", 1000),
    "characters_per_m": ("characters", 1_000_000),
    "participant_minute": ("participant_minutes", 1),
    "agent_session_minute": ("agent_session_minutes", 1),
    "webrtc_minute": ("webrtc_minutes", 1),
    "sip_minute": ("sip_minutes", 1),
    "phone_minute": ("phone_minutes", 1),
}
_ENTRY_KEYS = {
    "service", "model", "since", "source", "note", "aliases", "default", "rates",
    "percent_of_amount", "per_event_usd", "long_context", "service_tier", "plan", "confidence", "read",
    "granularity", "round_up", "round_usd", "no_fee_on_zero", "credit_usd", "credits",
    *_OTHER_SHORTHANDS,
}  # fmt: skip
CONFIDENCES = ("published", "unconfirmed")


def token_meter(key: str) -> str | None:
    """The token meter of a `…_per_mtok` key: input_per_mtok → input_tokens, cache_write_1h_per_mtok → …"""
    if not key.endswith("_per_mtok"):
        return None
    meter = key.removesuffix("_per_mtok") + "_tokens"
    return meter if meter in STANDARD_METERS else None


class EntryError(ValueError):
    """A price entry is malformed; `key` names the offending key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


def money(value: object, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise EntryError(key, f'expected a price such as "2.50", got {value!r}')
    try:
        # Prices are written as strings so TOML floats never round them; a float is
        # read through its shortest repr for the same reason.
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise EntryError(key, f"not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise EntryError(key, f"must be a finite, non-negative amount, not {value!r}")
    return amount


def _date(value: object, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise EntryError(key, f"expected a date such as 2026-03-01, got {value!r}")


def _text(raw: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise EntryError(key, "is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise EntryError(key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def parse_entry(raw: Mapping[str, Any], *, kind: str, custom_meters_ok: bool = True) -> PriceEntry:
    """Read one `[[prices]]` table. Raises EntryError naming the key."""
    unknown = {key for key in raw if key not in _ENTRY_KEYS and token_meter(key) is None}
    if unknown:
        key = sorted(unknown)[0]
        raise EntryError(key, f"unknown key; expected one of {', '.join(sorted(_ENTRY_KEYS))}")
    service = _text(raw, "service", required=True).lower()
    model = _text(raw, "model") or "*"
    rates: dict[str, Rate] = {}
    for key in raw:
        token = token_meter(key)
        if token is not None:
            rates[token] = Rate(money(raw[key], key), 1_000_000)
    for key, (meter, per) in _OTHER_SHORTHANDS.items():
        if key in raw:
            rates[meter] = Rate(money(raw[key], key), per)
    if "percent_of_amount" in raw:
        rates["amount_usd"] = Rate(money(raw["percent_of_amount"], "percent_of_amount"), 100)
    for meter, spec in (raw.get("rates") or {}).items():
        key = f"rates.{meter}"
        if meter not in STANDARD_METERS and not custom_meters_ok:
            raise EntryError(key, "unknown meter")
        if not meter.replace("_", "").isalnum():
            raise EntryError(key, "a meter name is letters, digits and underscores")
        if isinstance(spec, Mapping):
            per = spec.get("per", 1)
            if isinstance(per, bool) or not isinstance(per, int) or per <= 0:
                raise EntryError(f"{key}.per", f"expected a positive whole number, got {per!r}")
            rates[meter] = Rate(money(spec.get("usd"), f"{key}.usd"), per)
        else:
            rates[meter] = Rate(money(spec, key), 1)
    if "credit_usd" in raw or "credits" in raw:
        rates.update(_credits(raw))
    long_context = raw.get("long_context")
    if long_context is not None:
        rates = _with_long_context(rates, long_context)
    per_event = money(raw["per_event_usd"], "per_event_usd") if "per_event_usd" in raw else Decimal(0)
    if not rates and not per_event:
        raise EntryError("rates", "an entry must price at least one meter (e.g. input_per_mtok)")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise EntryError("aliases", "expected a list of model names")
    default = raw.get("default", False)
    if not isinstance(default, bool):
        raise EntryError("default", "expected true or false")
    since = _date(raw["since"], "since") if raw.get("since") is not None else None
    if kind == "override" and since is None:
        raise EntryError("since", "is required: an override wins from this date on")
    confidence = _text(raw, "confidence")
    if confidence and confidence not in CONFIDENCES:
        raise EntryError("confidence", f"expected one of {', '.join(CONFIDENCES)}, got {confidence!r}")
    no_fee = raw.get("no_fee_on_zero", False)
    if not isinstance(no_fee, bool):
        raise EntryError("no_fee_on_zero", "expected true or false")
    tier = _text(raw, "service_tier").lower() or None
    return PriceEntry(
        service=service,
        model=model.lower(),
        rates=rates,
        source=_text(raw, "source") or ("your costledger.toml" if kind == "override" else ""),
        kind=kind,
        since=since,
        per_event_usd=per_event,
        aliases=tuple(a.lower() for a in aliases),
        default=default,
        note=_text(raw, "note"),
        extra={k: raw[k] for k in ("credit_usd", "credits") if k in raw},
        service_tier=None if tier == "standard" else tier,
        plan=_text(raw, "plan").lower() or None,
        confidence=confidence or ("yours" if kind == "override" else ""),
        read=_date(raw["read"], "read") if raw.get("read") is not None else None,
        granularity=_text(raw, "granularity"),
        round_up=_increments(raw.get("round_up")),
        round_usd=_positive(raw["round_usd"], "round_usd") if "round_usd" in raw else None,
        no_fee_on_zero=no_fee,
    )


def _positive(value: object, key: str) -> Decimal:
    amount = money(value, key)
    if not amount:
        raise EntryError(key, "must be above zero")
    return amount


def _increments(spec: object) -> dict[str, Decimal]:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise EntryError("round_up", 'expected { phone_minutes = "1", … }: the increment each reading is rounded up to')
    return {str(meter): _positive(value, f"round_up.{meter}") for meter, value in spec.items()}


def _credits(raw: Mapping[str, Any]) -> dict[str, Rate]:
    """Credit pricing: `credit_usd` buys one credit, `credits` says how many credits one unit of a meter costs."""
    if "credit_usd" not in raw or not isinstance(raw.get("credits"), Mapping) or not raw["credits"]:
        raise EntryError("credits", 'credit pricing needs credit_usd = "…" and credits = { characters = "1" }')
    credit = money(raw["credit_usd"], "credit_usd")
    return {
        str(meter): Rate(credit * money(per_unit, f"credits.{meter}"), 1) for meter, per_unit in raw["credits"].items()
    }


def _with_long_context(rates: dict[str, Rate], spec: object) -> dict[str, Rate]:
    if not isinstance(spec, Mapping) or "threshold" not in spec:
        raise EntryError("long_context", 'expected { threshold = 200000, input_per_mtok = "…", … }')
    threshold = spec["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
        raise EntryError("long_context.threshold", "expected a positive number of input tokens")
    out = dict(rates)
    for key, value in spec.items():
        if key == "threshold":
            continue
        meter = token_meter(key)
        if meter is None or meter not in rates:
            raise EntryError(f"long_context.{key}", "must be a token price the entry also sets")
        base = rates[meter]
        assert not isinstance(base.usd, Tiered)
        out[meter] = Rate(Tiered(base.usd, ((threshold, money(value, f"long_context.{key}")),)), base.per)
    return out


def describe(entry: PriceEntry) -> dict[str, Any]:
    """An entry as people read a price list: "$3 per 1,000,000 input_tokens (>200000 input: $6)"."""
    rates = []
    for meter, rate in entry.rates.items():
        base = rate.usd.base if isinstance(rate.usd, Tiered) else rate.usd
        text = f"${usd(base)} per {rate.per:,} {meter}"
        if isinstance(rate.usd, Tiered):
            text += "".join(f" (>{start:,} input tokens: ${usd(p)})" for start, p in rate.usd.tiers)
        rates.append(text)
    if entry.per_event_usd:
        rates.append(f"${usd(entry.per_event_usd)} per event")
    if "credit_usd" in entry.extra:
        per = ", ".join(f"{usd(money(n, 'credits'))} credits per {m}" for m, n in entry.extra["credits"].items())
        rates.append(f"{per}; ${usd(money(entry.extra['credit_usd'], 'credit_usd') * 1000)} per 1,000 credits")
    for meter, step in entry.round_up.items():
        rates.append(f"{meter} rounded up to {usd(step)} per event")
    if entry.round_usd is not None:
        rates.append(f"total rounded half-up to ${usd(entry.round_usd)}")
    if entry.no_fee_on_zero:
        rates.append("no charge when every reading is zero")
    return {
        "service": entry.service,
        "model": entry.model,
        "rates": rates,
        "since": entry.since.isoformat() if entry.since else None,
        "kind": entry.kind,
        "source": entry.source,
        "price_ref": entry.ref,
        "service_tier": entry.service_tier,
        "plan": entry.plan,
        "confidence": entry.confidence,
        "read": entry.read.isoformat() if entry.read else None,
        "granularity": entry.granularity,
        "note": entry.note,
    }


# The token prices a model's row shows, per million tokens, in the order people compare them.
TOKEN_COLUMNS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
}


def per_mtok(entry: PriceEntry, meter: str) -> Decimal | None:
    """The base price of one million tokens of `meter`, or None when the entry has none of its own."""
    rate = entry.rates.get(meter)
    if rate is None:
        return None
    base = rate.usd.base if isinstance(rate.usd, Tiered) else rate.usd
    return base * 1_000_000 / rate.per


def summarize(entry: PriceEntry) -> dict[str, Any]:
    """One row of a price list: the token prices per MTok (for LLMs) beside the entry's description."""
    row = describe(entry)
    tokens = {column: per_mtok(entry, meter) for column, meter in TOKEN_COLUMNS.items()}
    row["per_mtok"] = {column: usd(price) if price is not None else None for column, price in tokens.items()}
    row["llm"] = tokens["input"] is not None or tokens["output"] is not None
    row["long_context"] = any(isinstance(rate.usd, Tiered) for rate in entry.rates.values())
    return row


# How people write a rate of each unit: (units it is quoted per, the unit's name).
_QUOTED: dict[str, tuple[int, str]] = {
    "audio_seconds": (60, "min"),
    "input_audio_seconds": (60, "min"),
    "characters": (1000, "1k chars"),
    "input_characters": (1000, "1k chars"),
    "web_searches": (1000, "1k searches"),
    "requests": (1000, "1k requests"),
    "agent_session_minutes": (1, "agent-session min"),
    "webrtc_minutes": (1, "WebRTC min"),
    "sip_minutes": (1, "SIP min"),
    "participant_minutes": (1, "participant min"),
    "phone_minutes": (1, "min"),
}


def short_rates(entry: PriceEntry) -> str:
    """An entry's rates as a price list writes them: "2.9% + $0.30", "$0.0043/min", "$0.0392/1k chars"."""
    parts: list[str] = []
    for meter, rate in entry.rates.items():
        price = rate.usd.base if isinstance(rate.usd, Tiered) else rate.usd
        if meter == "amount_usd":
            parts.append(f"{usd(price * 100 / rate.per)}%")
        elif meter.endswith("_tokens"):
            parts.append(f"${usd(price * 1_000_000 / rate.per)}/MTok {meter.removesuffix('_tokens')}")
        else:
            per, name = _QUOTED.get(meter, (1, meter))
            parts.append(f"${usd(price * per / rate.per)}/{name}")
    text = ", ".join(parts)
    if entry.per_event_usd:
        text += f" + ${usd(entry.per_event_usd)}"
    return text
