"""`agent-usage-logs`: rows of an `agent_usage_logs` table (one row per LLM call), as a
CSV export (`\\copy … TO … CSV HEADER`), a JSON list, or JSON lines.

Its quirks, handled here:
- the table has no service column: it follows from the model's family (claude → anthropic,
  gpt/o-series → openai, gemini → google); anything else is recorded as service "unknown"
  and stays unpriced rather than guessed;
- the model is kept as recorded. The tracker priced the alias `claude-sonnet` and every
  unknown model as Sonnet; costledger flags them unpriced unless your config maps the
  alias (`[aliases] "claude-sonnet" = "anthropic:claude-sonnet-4-20250514"`);
- web searches (the tracker charged $0.01 each) become the `web_searches` meter, priced
  by the catalog;
- `other_features` and `metadata` are JSON columns. Cache tokens found in
  `other_features` (Anthropic's `cache_read_input_tokens` / `cache_creation_input_tokens`,
  or costledger's names) become cache meters; for Anthropic they are added to
  `input_tokens`, which Anthropic reports without them. Other features go to the metadata.
- `total_cost` is what the tracker recorded; `id` (a uuid) gives the stable event id.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import Options, Parsed, money_text, stable_id, timestamp
from .jsonlist import json_list

FILES = r".*\.(csv|json|jsonl)"

_CACHE = {
    "cache_read_tokens": "cache_read_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "cache_creation_input_tokens": "cache_write_tokens",
}
_FAMILIES = (
    ("claude", "anthropic"),
    ("gpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt", "openai"),
    ("gemini", "google"),
)


def service_of(model: str | None) -> str:
    name = (model or "").lower()
    for prefix, service in _FAMILIES:
        if name.startswith(prefix):
            return service
    return "unknown"


def read(path: Path, options: Options) -> Iterator[Parsed]:
    for number, row in _rows(path):
        try:
            if isinstance(row, str):
                raise ValueError(row)
            yield Parsed(number, events=[_event(row)])
        except (ValueError, TypeError) as exc:
            yield Parsed(number, error=str(exc))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row or the reason it is not one)."""
    with path.open(encoding="utf-8", newline="") as handle:
        head = handle.read(1)
        while head.isspace():
            head = handle.read(1)
        handle.seek(0)
        if head == "[":
            # A JSON list, read an item at a time: its rows by position (its line numbers are not
            # the rows'), where it stops being JSON by line.
            for index, item, error in json_list(handle):
                if error is not None:
                    yield index, error
                else:
                    yield index, item if isinstance(item, dict) else f"row {index} is not an object"
        elif head == "{":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON ({exc.msg})"
                    continue
                yield number, item if isinstance(item, dict) else "a line must be a JSON object"
        else:
            reader = csv.DictReader(handle)
            missing = {"model", "input_tokens", "output_tokens", "timestamp"} - set(reader.fieldnames or ())
            if missing:
                yield 1, f"the header lacks {', '.join(sorted(missing))}"
                return
            for row in reader:
                if None in row:
                    yield reader.line_num, f"{len(row) + len(row[None]) - 1} columns, the header has {len(row) - 1}"
                    continue
                yield reader.line_num, dict(row)


def _json_column(row: dict[str, Any], key: str) -> dict[str, Any]:
    value = row.get(key)
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{key} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a JSON object")
    return value


def _count(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    if value in (None, ""):
        return 0
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key} must be a whole number, not {value!r}") from None
    return value


def _event(row: dict[str, Any]) -> dict[str, Any]:
    model = row.get("model") or None
    service = service_of(model)
    features = _json_column(row, "other_features")
    metadata = _json_column(row, "metadata")
    usage: dict[str, Any] = {
        "input_tokens": _count(row, "input_tokens"),
        "output_tokens": _count(row, "output_tokens"),
    }
    searches = _count(row, "web_searches")
    if searches:
        usage["web_searches"] = searches
    rest = {}
    for key, value in features.items():
        meter = _CACHE.get(key)
        if meter is None:
            rest[key] = value
        elif value:
            usage[meter] = usage.get(meter, 0) + _count(features, key)
    if service == "anthropic":
        usage["input_tokens"] += usage.get("cache_read_tokens", 0) + usage.get("cache_write_tokens", 0)
    if rest:
        metadata = {**metadata, "other_features": rest}
    source_id = row.get("id") or None
    return {
        "event_id": f"agent_usage_logs:{source_id}" if source_id else stable_id("agent_usage_logs", row),
        "ts": timestamp(row.get("timestamp"), "timestamp"),
        "service": service,
        "model": model,
        "operation": "llm_completion",
        "agent": row.get("agent") or None,
        "endpoint": row.get("endpoint") or None,
        "usage": usage,
        "recorded_cost_usd": money_text(row.get("total_cost"), "total_cost"),
        "metadata": metadata,
    }
