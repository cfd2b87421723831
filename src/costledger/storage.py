"""How a SQLite ledger uses memory and checkpoints: costledger.toml's `[storage]`.

Every event adds a key at a random place in the unique event_id index (its dedupe). In a fresh
file that index is a few hundred pages, which every batch rewrites; in a store of 1M events it
is ~11,000, so each event of a batch of 1,000 lands on a page of its own: a commit writes ~1,500
pages (6 MB) to the write-ahead log, 1,200 of them the index's, where a fresh file writes 150 to
350 (`python -m bench._ingest_breakdown` counts them by B-tree). Measured over 30 such batches
(2026-12-02, idle), that log is the whole difference: the commits take 0.7-0.8 s instead of
0.15-0.3 s (the log's fsync, ~1.7 ms a MB on the development disk, and two checkpoints that copy
~8,000 scattered pages into the file, ~0.2 s each), the event insert 0.27-0.38 s instead of 0.2 s
(a deeper index, its pages read in); validation, pricing and every other upsert (rollups,
sessions, period totals) cost the same in both, ~1.2 s and ~0.1 s.

The settings below keep SQLite's own defaults from making it worse: a 2 MB page cache per
connection cannot hold one batch's pages (they spill to the log mid-transaction and are read
back), and a log checkpointed after every commit once it passes 1,000 pages copies each batch's
pages into the file one by one. A bigger cache holds a batch; a bigger log lets one checkpoint
write once a page that many commits changed; the memory map lets readers (and the writer's
lookups) use the OS's cached copy of the file in place, shared between connections and processes
instead of copied into each. Beyond that the disk, not a setting, is the limit: a checkpoint
threshold of 128 or 256 MB, a checkpoint on a thread of its own (it slows the next commits'
fsyncs by what it spares them), 1 or 2 KB pages (more, smaller frames: no fewer syscalls), a
256 MB cache or no map all measured within the run-to-run spread. Only an index not written at
a random place per event would close the gap (see the README's Benchmarks).

The cache and map are upper bounds: a connection takes cache memory only for pages it has read,
and the map is address space (its pages count as resident when read, but they are the OS's file
cache, shared and reclaimable). The log reaches about sqlite_checkpoint_mb before a checkpoint and
is cut back to it afterwards. Environment variables override the file (as for `[server]`), so one
run can try another size without editing it. PostgreSQL ignores them: its memory is the server's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError
from .pricing.entries import EntryError


@dataclass(frozen=True)
class StorageSettings:
    # Most of its page cache one SQLite connection keeps, in MB (SQLite's own default: 2).
    sqlite_cache_mb: int = 64
    # How much of the file SQLite reads through a memory map, in MB; 0 turns the map off.
    sqlite_mmap_mb: int = 1024
    # The write-ahead log's size at which SQLite copies it into the database file (SQLite's own: 4 MB).
    sqlite_checkpoint_mb: int = 64


ENV = {
    "sqlite_cache_mb": "COSTLEDGER_SQLITE_CACHE_MB",
    "sqlite_mmap_mb": "COSTLEDGER_SQLITE_MMAP_MB",
    "sqlite_checkpoint_mb": "COSTLEDGER_SQLITE_CHECKPOINT_MB",
}
# SQLite's build caps the map at 0x7fff0000 bytes (SQLITE_MAX_MMAP_SIZE) and silently lowers a
# bigger size: refusing it says so instead. A cache above 64 GB per connection is a typo.
_BOUNDS = {"sqlite_cache_mb": (1, 65536), "sqlite_mmap_mb": (0, 2047), "sqlite_checkpoint_mb": (1, 4096)}


def _value(name: str, raw: object) -> int:
    low, high = _BOUNDS[name]
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise EntryError(name, f"expected a whole number of MB from {low} to {high}, got {raw!r}")
    try:
        number = int(raw)
    except ValueError:
        raise EntryError(name, f"expected a whole number of MB from {low} to {high}, got {raw!r}") from None
    if not low <= number <= high:
        raise EntryError(name, f"must be from {low} to {high} (MB), not {raw!r}")
    return number


def parse_storage(raw: Mapping[str, Any]) -> StorageSettings:
    """The `[storage]` table of costledger.toml (EntryError naming a bad key)."""
    known = {f.name for f in fields(StorageSettings)}
    unknown = set(raw) - known
    if unknown:
        raise EntryError(sorted(unknown)[0], f"unknown key; expected one of {', '.join(sorted(known))}")
    return StorageSettings(**{name: _value(name, value) for name, value in raw.items()})


def from_environment(base: StorageSettings | None = None) -> StorageSettings:
    """`base` (default: the defaults) with the environment's overrides; ConfigError naming the variable."""
    found: dict[str, Any] = {}
    for name, variable in ENV.items():
        text = os.environ.get(variable, "").strip()
        if text:
            try:
                found[name] = _value(name, text)
            except EntryError as exc:
                raise ConfigError(f"${variable}: {str(exc).split(': ', 1)[1]}") from None
    return replace(base or StorageSettings(), **found)


def sqlite_pragmas(settings: StorageSettings, page_size: int) -> list[str]:
    """The PRAGMAs that apply `settings` to one SQLite connection to a file of `page_size` pages."""
    log_bytes = settings.sqlite_checkpoint_mb * 1024 * 1024
    # A negative cache_size is in KiB; mmap_size and journal_size_limit are in bytes; the checkpoint in pages.
    return [
        f"PRAGMA cache_size=-{settings.sqlite_cache_mb * 1024}",
        f"PRAGMA mmap_size={settings.sqlite_mmap_mb * 1024 * 1024}",
        f"PRAGMA wal_autocheckpoint={max(1, log_bytes // page_size)}",
        # A log a long read kept from checkpointing grew past that: cut back to it once checkpointed.
        f"PRAGMA journal_size_limit={log_bytes}",
    ]


__all__ = ["ENV", "StorageSettings", "from_environment", "parse_storage", "sqlite_pragmas"]
