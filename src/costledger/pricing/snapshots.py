"""genai-prices data newer than the installed package: fetched into the prices directory, read back.

`costledger prices update` fetches genai-prices' published data file (the address its own
updater uses), checks it the way genai-prices does plus ours (the providers we price are
there), and stores it with a record of where it came from. Every process then prices from
the newest stored snapshot that still reads back whole; a bad file is refused before it is
stored, and a damaged one is skipped, so the previous data stays in force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import clock

ENV_DIR = "COSTLEDGER_PRICES_DIR"
# Providers a snapshot must price to be taken: a file without them is not genai-prices' data.
REQUIRED_PROVIDERS = ("anthropic", "openai", "google")


def prices_dir() -> Path:
    """Where fetched price data lives: $COSTLEDGER_PRICES_DIR, else the user's data directory."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured)
    from platformdirs import user_data_dir

    return Path(user_data_dir("costledger", appauthor=False)) / "prices"


@dataclass(frozen=True)
class Origin:
    """Where the genai-prices data in use came from."""

    kind: str  # "bundled" | "fetched"
    source: str  # the package ("genai-prices 0.2.3") or the URL / file it was fetched from
    fetched_at: dt.datetime | None = None
    path: Path | None = None


class SnapshotError(ValueError):
    """A price file that is not usable genai-prices data; nothing was stored."""


def parse(raw: bytes) -> list[Any]:
    """genai-prices providers from a data file, checked as genai-prices checks what it fetches, and more."""
    from genai_prices.types import _providers_from_raw

    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"not JSON (truncated or not a price file?): {exc}") from None
    if not isinstance(payload, list):
        raise SnapshotError("expected a list of providers, as genai-prices publishes")
    try:
        providers: list[Any] = _providers_from_raw(payload)
    except Exception as exc:  # pydantic's ValidationError and genai-prices' own ValueErrors
        raise SnapshotError(f"not genai-prices data: {str(exc).splitlines()[0]}") from None
    ids = {p.id: p for p in providers}
    missing = [p for p in REQUIRED_PROVIDERS if p not in ids or not ids[p].models]
    if missing:
        raise SnapshotError(f"it prices no models of {', '.join(missing)}: refused, the current data stays")
    return providers


def fetch(source: str, timeout: float = 30) -> tuple[bytes, str]:
    """The bytes of a price file from a URL or a path, and the source as recorded."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SnapshotError(f"could not fetch {source}: {exc}") from None
        return response.content, source
    path = Path(source).expanduser()
    try:
        return path.read_bytes(), str(path.resolve())
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror}") from None


def store(raw: bytes, source: str, directory: Path | None = None) -> Origin:
    """Check `raw` and keep it as the newest snapshot; raises SnapshotError and stores nothing if bad."""
    providers = parse(raw)
    directory = directory or prices_dir()
    directory.mkdir(parents=True, exist_ok=True)
    now = clock.now().astimezone(dt.UTC)
    # The time, then a sequence number: names sort newest last even when two arrive at one instant.
    sequence = len(list(directory.glob("genai-prices-*.meta.json"))) + 1
    stem = f"genai-prices-{now:%Y%m%dT%H%M%S%fZ}-{sequence:06d}"
    meta = {
        "source": source,
        "fetched_at": now.isoformat(),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "providers": len(providers),
        "models": sum(len(p.models) for p in providers),
    }
    # The data first, its record last: a snapshot counts only once both are whole on disk.
    _write(directory / f"{stem}.json", raw)
    _write(directory / f"{stem}.meta.json", json.dumps(meta, indent=2).encode())
    return Origin("fetched", source, now, directory / f"{stem}.json")


def _write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def newest(directory: Path | None = None) -> tuple[Origin, list[Any]] | None:
    """The newest stored snapshot that reads back whole, or None (then the bundled data is used)."""
    directory = directory or prices_dir()
    try:
        records = sorted(directory.glob("genai-prices-*.meta.json"), reverse=True)
    except OSError:
        return None
    for record in records:
        try:
            meta = json.loads(record.read_text(encoding="utf-8"))
            data = record.with_name(record.name.removesuffix(".meta.json") + ".json")
            raw = data.read_bytes()
            if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
                continue  # damaged since it was stored
            providers = parse(raw)
            fetched = dt.datetime.fromisoformat(meta["fetched_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return Origin("fetched", str(meta.get("source", "")), fetched, data), providers
    return None
