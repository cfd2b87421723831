"""`jsonl`: costledger's own usage events, one JSON object per line (DESIGN §1), e.g.
exported from another costledger or written by your own tracker. An event without an
`event_id` gets one derived from the line's content, so re-importing adds nothing; a
`recorded_cost_usd` field, if present, is kept for comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .common import Options, Parsed, stable_id

FILES = r".*\.jsonl"


def read(path: Path, options: Options) -> Iterator[Parsed]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Parsed(number, error=f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(event, dict):
                yield Parsed(number, error="a line must be one JSON event (an object)")
                continue
            if not event.get("event_id"):
                event = {**event, "event_id": stable_id("jsonl", event)}
            yield Parsed(number, events=[event])
