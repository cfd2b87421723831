"""What every adapter shares: where events go, stable event ids, and recording that never breaks a call."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..pricing import Catalog

log = logging.getLogger("costledger.integrations")

R_co = TypeVar("R_co", covariant=True)


class Recorder(Protocol[R_co]):
    """Where events go: a Ledger or its Session (→ Recorded), a Client or its session (→ Queued)."""

    def record(self, event: Any, model: str | None = None, /, **fields: Any) -> R_co: ...

    def record_many(self, events: Iterable[Any]) -> R_co: ...


def field(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name` for SDK objects, `obj[name]` for the JSON they came from."""
    if obj is None:
        return default
    value = obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)
    return default if value is None else value


def count(obj: Any, *path: str) -> int:
    """A whole-number count at `path` in an SDK object or its JSON, 0 when absent."""
    for name in path:
        obj = field(obj, name)
    return int(obj) if isinstance(obj, int | float) and not isinstance(obj, bool) else 0


def nonzero(meters: Mapping[str, Any]) -> dict[str, Any]:
    """The meters that counted something: a zero part says nothing and costs nothing."""
    return {name: value for name, value in meters.items() if value}


def stable_id(*parts: object) -> str:
    """An event id made of its parts, hashed when too long for the store's 128 characters."""
    joined = ":".join(str(p) for p in parts if p is not None and p != "")
    if len(joined) <= 128:
        return joined
    return f"{parts[0]}:{hashlib.sha256(joined.encode()).hexdigest()}"


def catalog_of(target: object) -> Catalog:
    """The catalog a Ledger (or a Session's ledger) prices with, else the built-in one."""
    for holder in (target, getattr(target, "ledger", None)):
        catalog = getattr(holder, "catalog", None)
        if catalog is not None:
            return catalog  # type: ignore[no-any-return]
    from ..pricing import default_catalog

    return default_catalog()


def with_fields(event: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`event` with the caller's fields on it; their metadata and tags are merged, not replaced."""
    merged = {**event, **fields}
    for name in ("metadata", "tags"):
        if name in event and name in fields:
            merged[name] = {**event[name], **fields[name]}
    return merged


def record_safely(target: Recorder[Any], events: list[dict[str, Any]]) -> None:
    """Record what an instrumented call consumed; a failure to record is logged, never raised into the call."""
    if not events:
        return
    try:
        target.record_many(events)
    except Exception:
        log.exception("costledger could not record %d usage event(s) of an instrumented call", len(events))


def request_json(request: Any) -> dict[str, Any]:
    """The JSON body of an HTTP request an SDK built (they send JSON, read into memory)."""
    try:
        body = json.loads(request.content or b"{}")
    except Exception:  # not read (a streamed upload) or not JSON
        return {}
    return body if isinstance(body, dict) else {}


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
