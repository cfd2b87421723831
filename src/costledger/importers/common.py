"""What every importer shares: stable ids, refusing a bad line, recording in batches.

An importer turns one source line (a session record, a table row, an event) into usage
events. costledger prices them itself; the cost the old tracker wrote goes into each
event's `recorded_cost_usd`, kept for `report --compare-recorded` and never summed.

A file is read twice, streaming: the first pass validates (and prices) every line and keeps
only counts, so a bad line refuses the file (naming its line) before anything of it is
stored; the second records it in batches of BATCH events, one transaction each, so memory
stays flat whatever the file's size. Event ids are derived from the source rows, so
importing a file again, or after an interruption half-way, adds nothing twice.
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

from ..errors import CostledgerError, InvalidEvent, UnknownPrice
from ..events import UsageEvent, parse_events
from ..money import MAX_EVENT_USD, to_nanos, too_dear, usd
from ..store.writer import touch_session

if TYPE_CHECKING:
    from ..ledger import Ledger

BATCH = 1000  # events per record_many transaction: what the import holds in memory
MAX_EVENT_NANOS = to_nanos(MAX_EVENT_USD)

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


def _validate(ledger: Ledger, file: Path, parsed: Parsed, priced: bool = True) -> list[UsageEvent]:
    """The line's events, validated (and, with `priced`, checked against MAX_EVENT_USD), or BadLine."""
    if parsed.error is not None:
        raise BadLine(file, parsed.line, parsed.error)
    try:
        events = parse_events(parsed.events, custom_meters=ledger.catalog.custom_meters)
    except InvalidEvent as exc:
        raise BadLine(file, parsed.line, "; ".join(f"{f}: {m}" if f else m for _, f, m in exc.errors)) from None
    for event in events if priced else ():
        dear = _too_dear(ledger, event)
        if dear is not None:  # record_many would refuse it: refuse the file before anything is stored
            raise BadLine(file, parsed.line, f"usage: {dear}")
    return events


def _too_dear(ledger: Ledger, event: UsageEvent) -> str | None:
    """Why record_many would refuse `event` for its price (MAX_EVENT_USD), or None."""
    if event.cost_usd is not None:
        cost = event.cost_usd
    else:
        try:
            cost = ledger.catalog.price(event.service, event.model, event.usage, event.ts, event.service_tier).total
        except UnknownPrice:
            return None  # stored unpriced
    nanos = to_nanos(cost)
    return too_dear(nanos) if nanos > MAX_EVENT_NANOS else None


@dataclass
class Checked:
    """What the validating pass found in a file: enough to record it in a second pass, not its events."""

    # Source lines read (blank lines are not lines of a log): the recording pass reads as many.
    lines: int = 0
    events: int = 0  # events of the good lines
    # The lines skipped (--skip-bad), counted in the order read: a JSON list's positions and the
    # line number of its syntax error are not one sequence.
    bad: set[int] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    kept: list[Parsed] | None = None  # the lines themselves, for a reader that must not run twice


class FileChanged(BadLine):
    """A line valid in the first pass is not in the second: the file was rewritten during the import.

    What was recorded before that line stays recorded; importing the file again once it is
    complete records the rest (event ids make the rest of it duplicates)."""

    def __init__(self, file: Path, line: int, message: str) -> None:
        super().__init__(file, line, f"{message} (the file changed during the import)")


class RecordingStopped(CostledgerError):
    """The second pass failed part-way: the batches recorded before stay (each one is atomic)."""

    def __init__(self, file: Path, done: int, total: int, cause: Exception) -> None:
        self.file, self.done, self.total = file, done, total
        reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        super().__init__(
            f"{file}: recording stopped after {done:,} of {total:,} events ({reason}); those stay recorded: "
            "import the file again to record the rest (nothing is recorded twice)"
        )


def import_file(
    ledger: Ledger,
    file: Path,
    reader: Reader,
    options: Options,
    skip_bad: bool = False,
    progress: Progress | None = None,
    into: Imported | None = None,
    reread: bool = True,
) -> Imported:
    """Validate all of `file`, then record its events in batches; BadLine refuses it whole.

    Two streaming passes, so memory does not grow with the file: the first reads and validates
    every line (and prices it: an event too dear to store refuses the file too) and keeps only
    counts; the second reads the file again and records BATCH events per transaction. A reader
    that must not run twice (`reread=False`: the stripe export may ask Stripe's API) keeps its
    parsed lines from the first pass instead.
    """
    result = into or Imported()
    checked = _check(ledger, file, reader, options, skip_bad, progress, keep=not reread)
    lines = iter(checked.kept) if checked.kept is not None else reader(file, options)
    before = result.accepted + result.duplicates
    try:
        _record(ledger, file, lines, checked, result, progress)
    except FileChanged:
        raise
    except Exception as exc:  # the database failed (full disk, lost connection…): say what stays
        done = result.accepted + result.duplicates - before
        raise RecordingStopped(file, done, checked.events, exc) from exc
    result.files.append(str(file))
    result.lines += checked.lines
    result.skipped.extend(checked.skipped)
    return result


def _check(
    ledger: Ledger, file: Path, reader: Reader, options: Options, skip_bad: bool, progress: Progress | None,
    keep: bool,
) -> Checked:  # fmt: skip
    """The first pass: every line validated, nothing kept but counts (and the bad lines' numbers)."""
    total = count_lines(file)
    checked = Checked(kept=[] if keep else None)
    for parsed in reader(file, options):
        checked.lines += 1
        try:
            checked.events += len(_validate(ledger, file, parsed))
            if checked.kept is not None:
                checked.kept.append(parsed)
        except BadLine as exc:
            if not skip_bad:
                raise
            checked.bad.add(checked.lines)
            checked.skipped.append(str(exc))
        if progress is not None:
            progress("reading", parsed.line, total)
    return checked


def _record(
    ledger: Ledger, file: Path, lines: Iterator[Parsed], checked: Checked, result: Imported,
    progress: Progress | None,
) -> None:  # fmt: skip
    """The second pass: the validated lines again, recorded BATCH events per record_many.

    Lines appended after the first pass are left for the next import (it reads as many lines as
    the first pass validated); a line that no longer validates means the file was rewritten.
    """
    batcher = _Batcher(ledger, file, checked.events, result, progress)
    for read, parsed in enumerate(lines, start=1):
        if read > checked.lines:
            break
        if read in checked.bad:
            continue
        if parsed.error is not None:
            raise FileChanged(file, parsed.line, parsed.error)
        batcher.add(parsed)
    batcher.finish()


class _Batcher:
    """Events waiting for record_many (validated there: the first pass validated and priced them
    already), and session spans waiting to be touched once their lines' events are stored."""

    def __init__(self, ledger: Ledger, file: Path, total: int, result: Imported, progress: Progress | None) -> None:
        self.ledger, self.file, self.total, self.result, self.progress = ledger, file, total, result, progress
        self.events: list[Any] = []
        self.lines: list[int] = []  # the source line of each waiting event
        self.spans: list[tuple[int, SessionSpan]] = []
        self.done = 0

    def add(self, parsed: Parsed) -> None:
        self.events.extend(parsed.events)
        self.lines.extend([parsed.line] * len(parsed.events))
        self.spans.extend((parsed.line, span) for span in parsed.spans)
        while len(self.events) >= BATCH:
            self._record(BATCH)
        # Spans are a tenth of the events or fewer: touched in batches of their own, not per record_many.
        if len(self.spans) >= BATCH:
            self._touch(self.lines[0] if self.lines else None)

    def finish(self) -> None:
        while self.events:
            self._record(BATCH)
        self._touch(None)

    def _record(self, count: int) -> None:
        batch, lines = self.events[:count], self.lines[:count]
        del self.events[:count], self.lines[:count]
        try:
            recorded = self.ledger.record_many(batch)
        except InvalidEvent as exc:
            line = lines[exc.errors[0][0] or 0]
            errors = [(f, m) for i, f, m in exc.errors if lines[i or 0] == line]
            raise FileChanged(self.file, line, "; ".join(f"{f}: {m}" if f else m for f, m in errors)) from None
        self.result.accepted += recorded.accepted
        self.result.duplicates += recorded.duplicates
        self.result.unpriced += recorded.unpriced
        self.result.cost_usd += recorded.cost_usd
        self.done += len(batch)
        if self.progress is not None:
            self.progress("recording", self.done, self.total)

    def _touch(self, before: int | None) -> None:
        """Touch the sessions of the lines before `before` (None: all), whose events are all stored."""
        ready = [span for line, span in self.spans if before is None or line < before]
        if ready:
            self.ledger.store.transaction(lambda connection: _touch(connection, ready))
            self.spans = self.spans[len(ready) :]


def _touch(connection: Connection, spans: Sequence[SessionSpan]) -> None:
    # Touching is idempotent (earliest start, latest end, nothing counted), so re-imports are too.
    for span in spans:
        for moment in (span.started_at, span.ended_at):
            touch_session(connection, span.session_id, moment.astimezone(dt.UTC).replace(tzinfo=None), span.fields)


__all__ = [
    "BadLine",
    "FileChanged",
    "Imported",
    "Options",
    "Parsed",
    "Progress",
    "RecordingStopped",
    "SessionSpan",
    "count_lines",
    "files_of",
    "import_file",
    "money_text",
    "stable_id",
    "timestamp",
]
