"""A drop-in for the `agent_usage_logs` cost tracker: same calls, costledger underneath.

Code written against the old tracker migrates by changing one import:

    from costledger.integrations.tracker import CostTracker, log_llm_usage

    tracker = CostTracker("SCHOLAR")
    await tracker.log_usage("research: pricing", "claude-sonnet-4-20250514", 8008, 1318, web_searches=3)
    await log_llm_usage("ARIA", "plan my launch week", "gpt-4o", response)

Differences, on purpose: prices come from the catalog at the call's time (an
unknown model is recorded unpriced, never priced as Sonnet; web searches at the
provider's price, not $0.01), and prompt-cache tokens in a response are priced as
cache reads and writes. The returned row is JSON-ready like the old one: its costs
are floats that carry their exact `Decimal` (`row["total_cost"].exact`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import clock
from ..errors import UnknownPrice
from ..events import new_event_id
from ..pricing.meters import STANDARD_METERS
from ._recording import Recorder, catalog_of, field

_PREFIXES = {
    "claude": "anthropic",
    "gpt": "openai",
    "o1": "openai",
    "o3": "openai",
    "o4": "openai",
    "chatgpt": "openai",
    "text-embedding": "openai",
    "gemini": "google",
    "mistral": "mistral",
    "grok": "xai",
}
_default: Recorder[Any] | None = None


class Cost(float):
    """A cost as the old tracker returned it, a float (so `json.dumps(row)` works), carrying its exact Decimal."""

    exact: Decimal

    def __new__(cls, exact: Decimal) -> Cost:
        cost = super().__new__(cls, exact)
        cost.exact = exact
        return cost

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Cost | Decimal):
            return self.exact == (other.exact if isinstance(other, Cost) else other)
        return float(self) == other

    __hash__ = float.__hash__

    def __str__(self) -> str:
        return str(self.exact)

    __repr__ = __str__


class Tokens(int):
    """An input-token count read from a response, carrying its cache parts (`meters`) for `log_usage`."""

    meters: dict[str, int]

    def __new__(cls, meters: dict[str, int]) -> Tokens:
        tokens = super().__new__(cls, meters.get("input_tokens", 0))
        tokens.meters = {k: v for k, v in meters.items() if k.startswith(("input_", "cache_"))}
        return tokens


def _response_event(response: Any) -> dict[str, Any]:
    """The usage event of an Anthropic or OpenAI response, by the shape of its usage."""
    usage = field(response, "usage")
    if usage is None:
        raise ValueError("the response carries no usage to log")
    if field(usage, "prompt_tokens") is not None or field(usage, "input_tokens_details") is not None:
        from .openai import response_event

        return response_event(response)
    from .anthropic import message_event

    return message_event(response)


def service_of(model: str) -> str:
    """The provider of a model name, as the old tracker's callers never said it."""
    name = model.lower().split("/")[-1]
    for prefix, service in _PREFIXES.items():
        if name.startswith(prefix):
            return service
    if "/" in model:
        return model.split("/")[0].lower()
    return "unknown"


def _open(target: Recorder[Any] | str | os.PathLike[str] | None, key: str | None, outbox: str | None) -> Recorder[Any]:
    global _default
    if target is not None and not isinstance(target, str | os.PathLike):
        return target
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        from ..client import Client

        if not key:
            raise ValueError("a costledger server URL needs an ingest key: CostTracker(agent, ledger=url, key=…)")
        return Client(target, key, outbox=outbox)
    from ..ledger import Ledger

    if target is not None:
        return Ledger(target)
    if _default is None:  # one ledger per process, as the old tracker had one table
        _default = Ledger()
    return _default


class CostTracker:
    """`CostTracker(agent)`: logs an agent's LLM calls, priced, into a costledger Ledger.

    `ledger` is a Ledger, a Session, a Client, a SQLite path, a postgresql:// URL or a
    costledger server URL (with `key`, and `outbox`, the Client's local queue file);
    by default the process's own `Ledger()`.
    `session_id`, `user_id`, `tier`, `mode` and `tags` go on every event.
    """

    def __init__(
        self,
        agent: str,
        *,
        ledger: Recorder[Any] | str | os.PathLike[str] | None = None,
        key: str | None = None,
        outbox: str | None = None,
        **fields: Any,
    ) -> None:
        self.agent = self.agent_name = agent
        self.target = _open(ledger, key, outbox)
        self.fields = fields

    @staticmethod
    def extract_usage_from_response(response: Any) -> tuple[int, int]:
        """(input tokens, output tokens) of an Anthropic or OpenAI response, as the old tracker returned.

        The input counts the whole prompt, prompt cache included (Anthropic reports the
        cache apart); passed on to `log_usage`, it still prices the cache parts as such.
        """
        meters = _response_event(response)["usage"]
        return Tokens(meters), int(meters.get("output_tokens", 0))

    @staticmethod
    def count_web_searches(response: Any) -> int:
        """The billed web searches of a response: `usage.server_tool_use.web_search_requests` (Anthropic).

        Not the response's `tool_use` blocks, which the old tracker counted: Anthropic
        bills each server-side search request, several of which a block may hide.
        OpenAI Responses: its `web_search_call` items.
        """
        return int(_response_event(response)["usage"].get("web_searches", 0))

    async def log_usage(
        self,
        endpoint: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        web_searches: int = 0,
        other_features: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one LLM call; returns the row the old tracker stored (costs None when unpriced).

        An `input_tokens` from `extract_usage_from_response` keeps its cache parts.
        """
        parts = getattr(input_tokens, "meters", {})
        usage = {**parts, "input_tokens": int(input_tokens), "output_tokens": output_tokens}
        return self.log(endpoint, model, usage, web_searches, other_features, metadata)

    def log(
        self,
        endpoint: str,
        model: str,
        usage: dict[str, Any],
        web_searches: int = 0,
        other_features: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        service: str | None = None,
        event_id: str | None = None,
        service_tier: str | None = None,
    ) -> dict[str, Any]:
        """`log_usage` with any meters (cache tokens…), synchronously."""
        catalog = catalog_of(self.target)
        meters = {**usage}
        if web_searches:
            meters["web_searches"] = web_searches
        features: dict[str, Any] = {}
        for name, value in (other_features or {}).items():
            # A feature that is a meter is priced; anything else is kept as it was given.
            known = name in STANDARD_METERS or name in catalog.custom_meters
            if known and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                meters[name] = meters.get(name, 0) + value
            else:
                features[name] = value
        ts = clock.now()
        event = {
            "event_id": event_id or new_event_id(),
            "ts": ts,
            "service": service or service_of(model),
            "model": model,
            "operation": "llm_completion",
            "usage": meters,
            "agent": self.agent,
            "endpoint": endpoint,
            **self.fields,
            "metadata": {**(metadata or {}), **({"other_features": features} if features else {})},
        }
        if service_tier:
            event["service_tier"] = service_tier
        self.target.record(event)
        return self._row(event, catalog, dict(other_features or {}), dict(metadata or {}))

    def _row(
        self, event: dict[str, Any], catalog: Any, features: dict[str, Any], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        usage = event["usage"]
        costs: dict[str, Cost | None] = dict.fromkeys(("input_cost", "output_cost", "feature_cost", "total_cost"))
        try:
            cost = price_event(catalog, event)
        except UnknownPrice:
            pass
        else:
            parts = cost.breakdown.items()
            spent = {
                "input_cost": sum((v for m, v in parts if m.startswith(("input_", "cache_"))), start=Decimal(0)),
                "output_cost": sum((v for m, v in parts if m.startswith("output_")), start=Decimal(0)),
            }
            spent["feature_cost"] = cost.total - spent["input_cost"] - spent["output_cost"]
            spent["total_cost"] = cost.total
            costs = {name: Cost(value) for name, value in spent.items()}
        return {
            "id": event["event_id"],
            "agent": self.agent,
            "endpoint": event["endpoint"],
            "model": event["model"],
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "web_searches": usage.get("web_searches", 0),
            "other_features": features,
            **costs,
            "metadata": metadata,
            "timestamp": event["ts"].isoformat(),
        }


def price_event(catalog: Any, event: Mapping[str, Any]) -> Any:
    """The catalog's price of an event at its time (and service tier)."""
    return catalog.price(event["service"], event["model"], event["usage"], event["ts"], event.get("service_tier"))


async def log_llm_usage(
    agent: str,
    endpoint: str,
    model: str,
    response: Any,
    web_searches: int = 0,
    metadata: Mapping[str, Any] | None = None,
    *,
    other_features: Mapping[str, Any] | None = None,
    ledger: Recorder[Any] | str | os.PathLike[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Log an Anthropic or OpenAI response's usage for `agent`, read from the response itself.

    The old positional order (`web_searches`, then `metadata`). Cache tokens, web
    searches and the service tier come from the response (a nonzero `web_searches`
    overrides its count); the event id is the response's, so a call also recorded by
    an instrumented client counts once.
    """
    tracker = CostTracker(agent, ledger=ledger, **fields)
    event = _response_event(response)
    usage = dict(event["usage"])
    searches = web_searches or usage.get("web_searches", 0)
    usage.pop("web_searches", None)
    return tracker.log(
        endpoint, event.get("model") or model, usage, searches, other_features, metadata,
        service=event["service"], event_id=event["event_id"], service_tier=event.get("service_tier"),
    )  # fmt: skip


__all__ = ["Cost", "CostTracker", "Tokens", "log_llm_usage", "service_of"]
