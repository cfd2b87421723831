"""A drop-in for the `agent_usage_logs` cost tracker: same calls, costledger underneath.

Code written against the old tracker migrates by changing one import:

    from costledger.integrations.tracker import CostTracker, log_llm_usage

    tracker = CostTracker("SCHOLAR")
    await tracker.log_usage("research: pricing", "claude-sonnet-4-20250514", 8008, 1318, web_searches=3)
    await log_llm_usage("ARIA", "plan my launch week", "gpt-4o", response)

Differences, on purpose: prices come from the catalog at the call's time (an
unknown model is recorded unpriced, never priced as Sonnet; web searches at the
provider's price, not $0.01), costs are `Decimal`, and prompt-cache tokens in a
response are priced as cache reads and writes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import clock
from ..errors import UnknownPrice
from ..pricing.meters import INPUT_PARTS, STANDARD_METERS
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
        self.agent = agent
        self.target = _open(ledger, key, outbox)
        self.fields = fields

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
        """Record one LLM call; returns the row the old tracker stored, costs exact (None when unpriced)."""
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
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
            "event_id": event_id or uuid.uuid4().hex,
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
        self.target.record(event)
        return self._row(event, catalog, dict(other_features or {}), dict(metadata or {}))

    def _row(
        self, event: dict[str, Any], catalog: Any, features: dict[str, Any], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        usage = event["usage"]
        costs: dict[str, Decimal | None] = dict.fromkeys(("input_cost", "output_cost", "feature_cost", "total_cost"))
        try:
            cost = catalog.price(event["service"], event["model"], usage, event["ts"])
        except UnknownPrice:
            pass
        else:
            part = cost.breakdown.get
            costs["input_cost"] = sum((part(m, Decimal(0)) for m in ("input_tokens", *INPUT_PARTS)), start=Decimal(0))
            costs["output_cost"] = part("output_tokens", Decimal(0))
            costs["total_cost"] = cost.total
            costs["feature_cost"] = cost.total - costs["input_cost"] - costs["output_cost"]
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
            "timestamp": event["ts"],
        }


async def log_llm_usage(
    agent: str,
    endpoint: str,
    model: str,
    response: Any,
    web_searches: int = 0,
    other_features: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    ledger: Recorder[Any] | str | os.PathLike[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Log an Anthropic or OpenAI response's usage for `agent`, read from the response itself.

    Cache tokens and web searches come from the response (a nonzero `web_searches`
    overrides its count); the event id is the response's, so a call also recorded by
    an instrumented client counts once.
    """
    tracker = CostTracker(agent, ledger=ledger, **fields)
    usage_obj = field(response, "usage")
    if usage_obj is None:
        raise ValueError("the response carries no usage to log")
    if field(usage_obj, "prompt_tokens") is not None or field(usage_obj, "input_tokens_details") is not None:
        from .openai import response_event

        event = response_event(response)
    else:
        from .anthropic import message_event

        event = message_event(response)
    usage = dict(event["usage"])
    searches = web_searches or usage.pop("web_searches", 0)
    usage.pop("web_searches", None)
    return tracker.log(
        endpoint, event.get("model") or model, usage, searches, other_features, metadata,
        service=event["service"], event_id=event["event_id"],
    )  # fmt: skip


__all__ = ["CostTracker", "log_llm_usage", "service_of"]
