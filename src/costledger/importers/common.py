"""What every importer shares: stable ids, refusing a bad line, recording in batches.

An importer turns one source line (a session record, a table row, an event) into usage
events. costledger prices them itself; the cost the old tracker wrote goes into each
event's `recorded_cost_usd`, kept for `report --compare-recorded` and never summed.

The whole file is read and validated before anything is stored, so a bad line refuses
the file (naming its line) and nothing of it is half-imported. Event ids are derived
from the source rows, so importing a file again, or after an interruption, adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ..errors import CostledgerError, InvalidEvent
from ..events import UsageEvent, parse_events
from ..money import usd
from ..store.writer import touch_session

if TYPE_CHECKING:
    from ..ledger import Ledger

BATCH = 1000

# (phase: "reading" | "recording", done, total): lines while reading, events while recording.
Progress = Callable[[str, int, int], None]


class BadLine(CostledgerError, ValueError):
    """A source line that cannot become usage events; the file is refused."""

    def __init__(self, file: Path, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


@dataclass(frozen=True)
class SessionSpan:
    """When a session ran, as the old tracker recorded it (it may start before its first event)."""

    session_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    fields: dict[str, Any]


@dataclass
class Parsed:
    """One source line: the events it holds, or why it cannot be imported."""

    line: int
    events: list[dict[str, Any]] = field(default_factory=list)
    spans: list[SessionSpan] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Options:
    participants: Decimal = Decimal(2)  # sutra livekit rows: participants per room
    stripe: Any = None  # stripe exports: the ledger's converter (costledger.webhooks.StripeEvents)


Reader = Callable[[Path, Options], Iterator[Parsed]]


@dataclass
class Imported:
    files: list[str] = field(default_factory=list)
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    unpriced: int = 0
    cost_usd: Decimal = Decimal(0)
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" (--skip-bad)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
            "skipped": self.skipped,
        }


def stable_id(source: str, *parts: object) -> str:
    """An event id derived from the source row: the same row always gets the same id."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return f"{source}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def money_text(value: object, what: str) -> str | None:
    """A recorded cost as decimal text; floats go through str so 0.03249 stays 0.03249."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{what} must be a number, not {value!r}")
    return str(value)


def timestamp(value: object, what: str) -> dt.datetime:
    """An ISO time with offset ("2026-11-19 08:00:00.75+00" as PostgreSQL prints it, or …Z)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a time with offset, not {value!r}")
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} is not an ISO time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} has no UTC offset: {value!r}")
    return moment


def json_lines(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, value, None) for each non-blank line of a JSON Lines file, or (number, None, why)
    for a line that is not JSON."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line), None
            except json.JSONDecodeError as exc:
                yield number, None, f"not valid JSON ({exc.msg}, column {exc.colno})"


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def files_of(path: Path, pattern: str) -> list[Path]:
    """A file, or the files of a directory whose names match `pattern`, sorted."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and re.fullmatch(pattern, p.name))
        if not found:
            raise FileNotFoundError(f"{path}: no file matching {pattern} to import")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return [path]


def _validate(ledger: Ledger, file: Path, parsed: Parsed) -> list[UsageEvent]:
    if parsed.error is not None:
        raise BadLine(file, parsed.line, parsed.error)
    try:
        return parse_events(parsed.events, custom_meters=ledger.catalog.custom_meters)
    except InvalidEvent as exc:
        raise BadLine(file, parsed.line, "; ".join(f"{f}: {m}" if f else m for _, f, m in exc.errors)) from None


def import_file(
    ledger: Ledger,
    file: Path,
    reader: Reader,
    options: Options,
    skip_bad: bool = False,
    progress: Progress | None = None,
    into: Imported | None = None,
) -> Imported:
    """Read and validate all of `file`, then record its events; BadLine refuses it whole."""
    result = into or Imported()
    total = count_lines(file)
    events: list[UsageEvent] = []
    spans: list[SessionSpan] = []
    skipped: list[str] = []
    lines = 0
    for parsed in reader(file, options):
        lines += 1
        try:
            events.extend(_validate(ledger, file, parsed))
            spans.extend(parsed.spans)
        except BadLine as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
        if progress is not None:
            progress("reading", parsed.line, total)
    _record(ledger, events, spans, result, progress)
    result.files.append(str(file))
    result.lines += lines
    result.skipped.extend(skipped)
    return result


def _record(
    ledger: Ledger, events: Sequence[UsageEvent], spans: Sequence[SessionSpan], result: Imported,
    progress: Progress | None,
) -> None:  # fmt: skip
    for start in range(0, len(events), BATCH):
        done = ledger.record_many(events[start : start + BATCH])
        result.accepted += done.accepted
        result.duplicates += done.duplicates
        result.unpriced += done.unpriced
        result.cost_usd += done.cost_usd
        if progress is not None:
            progress("recording", min(start + BATCH, len(events)), len(events))
    if spans:
        ledger.store.transaction(lambda connection: _touch(connection, spans))


def _touch(connection: Connection, spans: Sequence[SessionSpan]) -> None:
    # Touching is idempotent (earliest start, latest end, nothing counted), so re-imports are too.
    for span in spans:
        for moment in (span.started_at, span.ended_at):
            touch_session(connection, span.session_id, moment.astimezone(dt.UTC).replace(tzinfo=None), span.fields)


__all__ = [
    "BadLine",
    "Imported",
    "Options",
    "Parsed",
    "Progress",
    "SessionSpan",
    "count_lines",
    "files_of",
    "import_file",
    "money_text",
    "stable_id",
    "timestamp",
]
