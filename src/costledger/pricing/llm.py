"""LLM prices from pydantic's genai-prices, turned into price entries.

genai-prices is imported on first use: loading its data takes about a quarter of
a second, which `import costledger` must not pay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from .entries import PriceEntry, Rate, Tiered

# genai-prices usage keys that are costledger meters; its other units (audio
# tokens, 1h cache writes…) cannot appear in a costledger event.
_METERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "web_searches",
    "requests",
)


class GenaiPrices:
    """A read-only view of genai-prices' bundled snapshot."""

    @cached_property
    def _snapshot(self) -> Any:
        from genai_prices import data_snapshot

        return data_snapshot.get_snapshot()

    @cached_property
    def version(self) -> str:
        from importlib.metadata import version

        return version("genai-prices")

    @cached_property
    def _units(self) -> dict[str, tuple[str, int]]:
        from genai_prices.units import _get_registry

        registry = _get_registry()
        return {u.price_key: (u.usage_key, u.per) for u in registry.units.values() if u.usage_key in _METERS}

    def find(self, service: str, model: str) -> tuple[Any, Any] | None:
        """The (provider, model) genai-prices resolves this name to, or None."""
        try:
            found: tuple[Any, Any] = self._snapshot.find_provider_model(model, None, service, None)
        except LookupError:
            return None
        return found

    def knows_service(self, service: str) -> bool:
        from genai_prices.data_snapshot import find_provider_by_id

        return find_provider_by_id(self._snapshot.providers, service) is not None

    def date_dependent_only(self, model: Any) -> bool:
        """True when the model's price depends on the date alone, so it can be cached per day."""
        from genai_prices.types import TimeOfDateConstraint

        prices = model.prices
        return not (isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices))

    def entry(self, provider: Any, model: Any, at: dt.datetime) -> PriceEntry:
        """The model's prices in force at `at` as a costledger entry."""
        from genai_prices.types import StartDateConstraint, TieredPrices

        since: dt.date | None = None
        if isinstance(model.prices, list):
            chosen = model.prices[0]
            for conditional in reversed(model.prices):
                if conditional.constraint is None or conditional.constraint.active(at):
                    chosen = conditional
                    break
            if isinstance(chosen.constraint, StartDateConstraint):
                since = chosen.constraint.start_date
            model_price = chosen.prices
        else:
            model_price = model.prices
        rates: dict[str, Rate] = {}
        for price_key, value in model_price.__dict__.items():
            unit = self._units.get(price_key)
            if unit is None or value is None:
                continue
            meter, per = unit
            if isinstance(value, TieredPrices):
                usd: Any = Tiered(value.base, tuple((t.start, t.price) for t in value.tiers))
            else:
                usd = value
            rates[meter] = Rate(usd, per)
        return PriceEntry(
            service=provider.id,
            model=model.id,
            rates=rates,
            source=f"genai-prices {self.version}",
            kind="genai-prices",
            since=since,
            note=model.price_comments or "",
        )

    def models(self, service: str) -> Iterator[tuple[Any, Any]]:
        for provider in self._snapshot.providers:
            if provider.id == service:
                for model in provider.models:
                    yield provider, model

    def names(self, service: str) -> list[str]:
        """Model ids and the exact names they match, for "did you mean" hints."""
        from genai_prices.types import ClauseEquals, ClauseOr, ClauseStartsWith

        out: list[str] = []
        for _, model in self.models(service):
            out.append(model.id)
            clauses = model.match.or_ if isinstance(model.match, ClauseOr) else [model.match]
            for clause in clauses:
                if isinstance(clause, ClauseEquals):
                    out.append(clause.equals)
                elif isinstance(clause, ClauseStartsWith):
                    out.append(clause.starts_with.rstrip("-@."))
        return out

    def services(self) -> list[str]:
        return [p.id for p in self._snapshot.providers]
