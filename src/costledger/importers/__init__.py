"""Importing the logs of the trackers costledger replaces (see each module for its quirks)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from . import agent_usage_logs, jsonl, stripe, sutra
from .common import (
    BadLine,
    FileChanged,
    Imported,
    Options,
    Progress,
    Reader,
    RecordingStopped,
    files_of,
    import_file,
)

if TYPE_CHECKING:
    from ..ledger import Ledger

# format name → (reader, which files of a directory it imports)
FORMATS: dict[str, tuple[Reader, str]] = {
    "sutra-jsonl": (sutra.read, sutra.FILES),
    "agent-usage-logs": (agent_usage_logs.read, agent_usage_logs.FILES),
    "jsonl": (jsonl.read, jsonl.FILES),
    "stripe": (stripe.read, stripe.FILES),
}


def import_path(
    ledger: Ledger,
    path: str | Path,
    format: str,
    *,
    skip_bad: bool = False,
    participants: int | Decimal = 2,
    progress: Progress | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> Imported:
    """Import a file, or every matching file of a directory (sutra: `costs-YYYY-MM-DD.jsonl`; stripe: `*.json`).

    Each file is validated whole before it is stored: a bad line raises BadLine naming the
    file and line, and that file stores nothing (unless skip_bad, which skips and lists it).
    Then it is read again and recorded in batches, so memory does not grow with its size.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; formats are {', '.join(FORMATS)}")
    if Decimal(participants) <= 0:
        raise ValueError("participants must be at least 1")
    reader, pattern = FORMATS[format]
    converter = None
    if format == "stripe":
        from ..webhooks.sources import stripe_events

        converter = stripe_events(ledger)
    options = Options(participants=Decimal(participants), stripe=converter)
    result = Imported()
    for file in files_of(Path(path), pattern):
        if on_file is not None:
            on_file(file)
        # A stripe export may ask Stripe's API about its events: it is read once, kept, then recorded.
        import_file(ledger, file, reader, options, skip_bad=skip_bad, progress=progress, into=result,
                    reread=format != "stripe")  # fmt: skip
    return result


__all__ = ["FORMATS", "BadLine", "FileChanged", "Imported", "RecordingStopped", "import_path"]
