"""The standard meters: what a usage event can count, and in which unit.

LLM meters keep genai-prices' names and meaning (`input_tokens` counts all prompt
tokens, cached ones included), so LLM usage passes to it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from decimal import Decimal, InvalidOperation

STANDARD_METERS: dict[str, str] = {
    "input_tokens": "prompt tokens, cached ones included",
    "output_tokens": "completion tokens",
    "cache_read_tokens": "prompt tokens read from the prompt cache (part of input_tokens)",
    "cache_write_tokens": "prompt tokens written to the prompt cache (part of input_tokens)",
    "web_searches": "server-side web search requests",
    "requests": "API requests",
    "audio_seconds": "seconds of audio (speech-to-text, text-to-speech)",
    "characters": "characters synthesised (text-to-speech)",
    "participant_minutes": "realtime-room participant-minutes",
    "phone_minutes": "telephony minutes, each call rounded up to the whole minute",
    "amount_usd": "amount charged to a customer, in USD (payments: the fee is a share of it)",
}

# Meters that are parts of input_tokens rather than additions to it.
INPUT_PARTS = ("cache_read_tokens", "cache_write_tokens")

# A quantity above this is a bug in the caller (a timestamp in a token field, say).
MAX_QUANTITY = 10**12

Quantity = int | Decimal


def quantity(value: object, what: str) -> Quantity:
    """One meter reading or money amount as an exact number, refusing what cannot be one."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        number: Quantity = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, not {value!r}")
        # repr gives the shortest decimal that round-trips: 0.1 stays 0.1.
        number = Decimal(repr(value))
    elif isinstance(value, Decimal | str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{what} must be a number, not {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"{what} must be finite, not {value!r}")
    else:
        raise ValueError(f"{what} must be a number, not {type(value).__name__}")
    if number < 0:
        raise ValueError(f"{what} must not be negative ({value!r})")
    if number > MAX_QUANTITY:
        raise ValueError(f"{what} is absurdly large ({value!r} > 1e12)")
    return number


def readings(
    usage: Mapping[str, object], custom_meters: Container[str] = frozenset(), prefix: str = ""
) -> dict[str, Quantity]:
    """Meter readings as exact numbers, by the rules every way in shares (the event, `price()`, the CLI).

    Refuses unknown meters, bad quantities, and cache parts larger than the input they are part of
    (priced anyway, they would make the plain input negative). `prefix` names the field in messages.
    """
    out: dict[str, Quantity] = {}
    for meter, reading in usage.items():
        if meter not in STANDARD_METERS and meter not in custom_meters:
            raise ValueError(
                f"unknown meter {meter!r}; standard meters are {', '.join(STANDARD_METERS)}"
                " (a custom meter must be priced in costledger.toml)"
            )
        if type(reading) is int and 0 <= reading <= MAX_QUANTITY:
            out[meter] = reading  # what quantity() returns for it, without the call: the common case
        else:
            out[meter] = quantity(reading, f"{prefix}{meter}")
    if "cache_read_tokens" in out or "cache_write_tokens" in out:
        parts = out.get("cache_read_tokens", 0) + out.get("cache_write_tokens", 0)
        total = out.get("input_tokens", 0)
        if parts > total:
            raise ValueError(
                f"{prefix}cache_read_tokens + {prefix}cache_write_tokens ({parts}) exceed {prefix}input_tokens"
                f" ({total}): input_tokens counts all prompt tokens and must include the cache reads and writes"
            )
    return out
