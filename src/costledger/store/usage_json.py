"""An event's usage as the store keeps it: a JSON object of meter → count, a Decimal reading written
as its text (JSON has no exact decimal; the writer's default=str), ints as ints. Read back exactly."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any


def _exact(usage: dict[str, Any]) -> dict[str, int | Decimal]:
    for meter, value in usage.items():
        if type(value) is not int:
            usage[meter] = Decimal(str(value))
    return usage


def usage_from_json(text: str) -> dict[str, int | Decimal]:
    return _exact(json.loads(text))


def usages_from_json(texts: Iterable[str]) -> list[dict[str, int | Decimal]]:
    """Many events' usage: one text of them all is parsed at once (a json.loads per event took twice
    as long over a month's LLM calls)."""
    return [_exact(usage) for usage in json.loads("[" + ",".join(texts) + "]")]


__all__ = ["usage_from_json", "usages_from_json"]
