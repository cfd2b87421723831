"""How a SQLite ledger uses memory: its page cache and its memory map (costledger.toml's `[storage]`).

SQLite's own default cache is 2 MB per connection. Once the ledger's indexes outgrow it (the
unique event_id index of 1M events is ~60 MB, and every event touches the rollup and session
keys too), each batch rereads most of the pages it changes from the OS: ingest into a store of
1M events ran at 0.40x the rate into a fresh file. A bigger cache keeps the hot pages; the memory
map lets readers (and the writer's lookups) use the OS's cached copy of the file in place, shared
between connections and processes instead of copied into each one's cache.

Both are upper bounds: a connection takes cache memory only for pages it has read, and the map is
address space, not memory. Environment variables override the file (as for `[server]`), so one run
can try another size without editing it. PostgreSQL ignores them: its memory is the server's.
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


ENV = {
    "sqlite_cache_mb": "COSTLEDGER_SQLITE_CACHE_MB",
    "sqlite_mmap_mb": "COSTLEDGER_SQLITE_MMAP_MB",
}
# SQLite's build caps the map at 0x7fff0000 bytes (SQLITE_MAX_MMAP_SIZE) and silently lowers a
# bigger size: refusing it says so instead. A cache above 64 GB per connection is a typo.
_BOUNDS = {"sqlite_cache_mb": (1, 65536), "sqlite_mmap_mb": (0, 2047)}


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


def sqlite_pragmas(settings: StorageSettings) -> list[str]:
    """The PRAGMAs that apply `settings` to one SQLite connection."""
    # A negative cache_size is in KiB; mmap_size is in bytes.
    return [
        f"PRAGMA cache_size=-{settings.sqlite_cache_mb * 1024}",
        f"PRAGMA mmap_size={settings.sqlite_mmap_mb * 1024 * 1024}",
    ]


__all__ = ["ENV", "StorageSettings", "from_environment", "parse_storage", "sqlite_pragmas"]
