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

    @functools.cached_property
    def ref(self) -> str:
        """Which entry priced an event, as the ledger stores it (once per entry: every priced event asks)."""
        since = self.since.isoformat() if self.since else "always"
        return f"{self.kind}:{self.service}/{self.model}@{since}"

    @property
    def precedence(self) -> int:
        return KINDS.index(self.kind)


_TOKEN_SHORTHANDS = {
    "input_per_mtok": "input_tokens",
    "output_per_mtok": "output_tokens",
    "cache_read_per_mtok": "cache_read_tokens",
    "cache_write_per_mtok": "cache_write_tokens",
}
_OTHER_SHORTHANDS: dict[str, tuple[str, int]] = {
    "web_searches_per_k": ("web_searches", 1000),
    "requests_per_k": ("requests", 1000),
    "audio_per_minute": ("audio_seconds", 60),
    "audio_per_hour": ("audio_seconds", 3600),
    "characters_per_k": ("characters", 1000),
    "characters_per_m": ("characters", 1_000_000),
    "participant_minute": ("participant_minutes", 1),
}
_ENTRY_KEYS = {
    "service", "model", "since", "source", "note", "aliases", "default", "rates",
    "percent_of_amount", "per_event_usd", "long_context",
    *_TOKEN_SHORTHANDS, *_OTHER_SHORTHANDS,
}  # fmt: skip


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
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise EntryError(key, f"unknown key; expected one of {', '.join(sorted(_ENTRY_KEYS))}")
    service = _text(raw, "service", required=True).lower()
    model = _text(raw, "model") or "*"
    rates: dict[str, Rate] = {}
    for key, meter in _TOKEN_SHORTHANDS.items():
        if key in raw:
            rates[meter] = Rate(money(raw[key], key), 1_000_000)
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
    )


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
        meter = _TOKEN_SHORTHANDS.get(key)
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
    return {
        "service": entry.service,
        "model": entry.model,
        "rates": rates,
        "since": entry.since.isoformat() if entry.since else None,
        "kind": entry.kind,
        "source": entry.source,
        "price_ref": entry.ref,
    }
