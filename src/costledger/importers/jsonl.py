"""`jsonl`: costledger's own usage events, one JSON object per line (DESIGN §1), e.g.
exported from another costledger or written by your own tracker. An event without an
`event_id` gets one derived from the line's content, so re-importing adds nothing; a
`recorded_cost_usd` field, if present, is kept for comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .common import Options, Parsed, json_lines, stable_id

FILES = r".*\.jsonl"


def read(path: Path, options: Options) -> Iterator[Parsed]:
    for number, event, error in json_lines(path):
        if error is not None:
            yield Parsed(number, error=error)
        elif not isinstance(event, dict):
            yield Parsed(number, error="a line must be one JSON event (an object)")
        else:
            if not event.get("event_id"):
                event = {**event, "event_id": stable_id("jsonl", event)}
            yield Parsed(number, events=[event])
