"""Reading one key of a costledger.toml table: each failure is an EntryError naming the key,
which config.py turns into file:line: section.key: message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .pricing.entries import EntryError


def required(raw: Mapping[str, Any], key: str) -> Any:
    if raw.get(key) in (None, ""):
        raise EntryError(key, "is required")
    return raw[key]


def date(raw: Mapping[str, Any], key: str) -> dt.date:
    value = required(raw, key)
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise EntryError(key, f"expected a date such as 2026-02-01, got {value!r}") from None


def only(raw: Mapping[str, Any], allowed: set[str]) -> None:
    extra = set(raw) - allowed
    if extra:
        raise EntryError(sorted(extra)[0], f"unknown key; expected one of {', '.join(sorted(allowed))}")


def string(raw: Mapping[str, Any], key: str, default: str | None = None) -> Any:
    value = raw.get(key, default)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise EntryError(key, f"expected a non-empty string, got {value!r}")
    return value.strip() if isinstance(value, str) else value


def names(raw: Mapping[str, Any], key: str) -> dict[str, str]:
    value = raw.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        raise EntryError(key, f'expected {{ "id" = "name", … }}, got {value!r}')
    return {str(k): v for k, v in value.items()}
