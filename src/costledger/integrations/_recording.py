"""What every adapter shares: where events go, stable event ids, and the batch discount."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .. import clock
from ..errors import UnknownPrice
from ..pricing.meters import INPUT_PARTS

if TYPE_CHECKING:
    from ..pricing import Catalog

# Message Batches (Anthropic) and the Batch API (OpenAI) bill tokens at half price.
BATCH_DISCOUNT = Decimal("0.5")
_TOKEN_METERS = ("input_tokens", "output_tokens", *INPUT_PARTS)


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


def tokens_with_cache(input_tokens: int, cache_read: int, cache_write: int) -> dict[str, int]:
    """Token meters where `input_tokens` counts the cached parts too (DESIGN §1).

    Some reporters give the cache apart (Anthropic's own usage, several OTel
    instrumentations of it): when the parts exceed the total, they were apart.
    """
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    usage = {"input_tokens": input_tokens}
    if cache_read:
        usage["cache_read_tokens"] = cache_read
    if cache_write:
        usage["cache_write_tokens"] = cache_write
    return usage


def apply_batch_discount(event: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Price a batch result at list price minus the batch discount on its tokens.

    The pricing core has no notion of discounts, so the result is recorded as a
    reported cost, with the list price kept in metadata. Web searches and other
    non-token charges keep their full price. An unknown model stays unpriced.
    """
    when = event.get("ts") or clock.now()
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    event["ts"] = when
    metadata = event.setdefault("metadata", {})
    metadata["batch"] = True
    try:
        cost = catalog.price(event["service"], event.get("model"), event.get("usage", {}), when)
    except UnknownPrice as exc:
        metadata["batch_discount"] = f"not applied: {exc}"
        return event
    tokens = sum((amount for meter, amount in cost.breakdown.items() if meter in _TOKEN_METERS), start=Decimal(0))
    event["cost_usd"] = cost.total - tokens * BATCH_DISCOUNT
    metadata["batch_discount"] = str(BATCH_DISCOUNT)
    metadata["list_cost_usd"] = str(cost.total)
    metadata["list_price_ref"] = cost.entry.ref
    return event


def iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def recording_call(
    call: Callable[..., Any], wrap: Callable[[Any], Any], prepare: Callable[[dict[str, Any]], None] | None = None
) -> Callable[..., Any]:
    """An SDK method whose result (returned, or awaited from the async client) passes through `wrap`."""

    def call_and_wrap(*args: Any, **kwargs: Any) -> Any:
        if prepare is not None:
            prepare(kwargs)
        result = call(*args, **kwargs)
        if inspect.isawaitable(result):  # the async client

            async def finish() -> Any:
                return wrap(await result)

            return finish()
        return wrap(result)

    return call_and_wrap
