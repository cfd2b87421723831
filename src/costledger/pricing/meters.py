"""The standard meters: what a usage event can count, and in which unit.

LLM meters keep genai-prices' names and meaning (`input_tokens` counts all prompt
tokens, cached ones included), so LLM usage passes to it unchanged.
"""

from __future__ import annotations

import math
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
