"""`stripe`: Stripe's events from an export, for history the webhook never saw.

Accepts a JSON list of events, `stripe events list` output (`{"object": "list", "data":
[…]}`), or JSON lines of events; a position in the file is the event's index in the list
(or its line). Each event becomes what the webhook would have stored
(`costledger.webhooks.StripeEvents`, the same ids), so importing history the webhook already
recorded, or the same export twice, adds nothing. With `[stripe] api_key` set, what an event
only names (a balance transaction, a customer) is read from Stripe as the webhook does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..webhooks import StripeEvents, Unusable
from .common import Options, Parsed, json_lines

FILES = r".*\.jsonl?"


def read(path: Path, options: Options) -> Iterator[Parsed]:
    converter = options.stripe if isinstance(options.stripe, StripeEvents) else None
    if converter is None:
        raise ValueError("the stripe format needs the ledger's [stripe] settings (import it with import_path)")
    for line, event in _events(path):
        if isinstance(event, str):
            yield Parsed(line, error=event)
            continue
        try:
            yield Parsed(line, events=converter.events(event))
        except Unusable as exc:
            yield Parsed(line, error=f"{event.get('type')} {event.get('id')}: {exc}")


def _events(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(position, event) for each event of the file; a str in place of the event says why it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            yield exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"
            return
        # More than one JSON value: JSON lines, one event each.
        for number, event, error in json_lines(path):
            yield number, error if error is not None else _event(event)
        return
    if isinstance(data, dict) and data.get("object") == "list":
        data = data.get("data")
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        yield 1, 'expected a list of Stripe events, or {"object": "list", "data": [...]}'
        return
    for index, event in enumerate(data, start=1):
        yield index, _event(event)


def _event(value: Any) -> dict[str, Any] | str:
    if not isinstance(value, dict) or value.get("object") != "event":
        return 'not a Stripe event ({"object": "event", "type": …})'
    return value
