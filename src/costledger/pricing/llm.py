"""LLM prices from pydantic's genai-prices, turned into price entries.

genai-prices is imported on first use: loading its data takes about a quarter of
a second, which `import costledger` must not pay.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from .entries import PriceEntry, Rate, Tiered
from .snapshots import Origin

# What may follow a model name matched by its prefix and still be that model: a date, a
# version stamp, "latest" (claude-sonnet-4-5-20250929, …@20250929, …-v1:0, …-latest). Anything
# else (claude-opus-4-6-fast) is another product that only looks alike: never guessed.
_STAMP = r"(?:[-@_.:](?:\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}(?:-\d{4})?|\d{1,4}|v\d+(?:[.:]\d+)*|latest|preview|exp))*"
_TRAILING_STAMP = re.compile(_STAMP + r"\Z")


def _stamped(name: str, literal_end: int) -> bool:
    """True when what follows a matched prefix is only a stamp (which may begin inside the prefix:
    claude-sonnet-4-2025 matches claude-sonnet-4-20250514)."""
    found = _TRAILING_STAMP.search(name)
    return found is not None and found.start() <= literal_end


class GenaiPrices:
    """A read-only view of one genai-prices snapshot: the package's own, or one fetched later."""

    def __init__(self, providers: list[Any] | None = None, origin: Origin | None = None) -> None:
        self._providers = providers
        self._origin = origin

    @cached_property
    def _snapshot(self) -> Any:
        from genai_prices import data_snapshot

        if self._providers is None:
            return data_snapshot.get_snapshot()
        return data_snapshot.DataSnapshot(self._providers, from_auto_update=True)

    @cached_property
    def version(self) -> str:
        from importlib.metadata import version

        return version("genai-prices")

    @cached_property
    def origin(self) -> Origin:
        return self._origin or Origin("bundled", f"genai-prices {self.version}")

    @cached_property
    def source(self) -> str:
        """What priced entries say they came from."""
        if self.origin.kind == "bundled":
            return self.origin.source
        fetched = self.origin.fetched_at
        return (
            f"genai-prices data fetched {fetched:%Y-%m-%d} from {self.origin.source}" if fetched else self.origin.source
        )

    @cached_property
    def data_date(self) -> dt.date | None:
        """The newest price change the data knows of: how current it is."""
        from genai_prices.types import StartDateConstraint

        dates = [
            c.constraint.start_date
            for p in self._snapshot.providers
            for m in p.models
            for c in [*(m.prices if isinstance(m.prices, list) else []), *(m.price_variants or [])]
            if isinstance(c.constraint, StartDateConstraint)
        ]
        return max(dates, default=None)

    @cached_property
    def _units(self) -> dict[str, tuple[str, int]]:
        from genai_prices.units import _get_registry

        registry = _get_registry()
        return {u.price_key: (u.usage_key, u.per) for u in registry.units.values()}

    def find(self, service: str, model: str) -> tuple[Any, Any] | None:
        """The (provider, model) genai-prices resolves this name to, or None."""
        try:
            found: tuple[Any, Any] = self._snapshot.find_provider_model(model, None, service, None)
        except LookupError:
            return None
        return found

    def provider_of(self, name: str) -> str | None:
        """The provider id a name stands for ("gemini" → google), or None."""
        from genai_prices.data_snapshot import find_provider_by_id

        found = find_provider_by_id(self._snapshot.providers, name)
        return found.id if found is not None else None

    def knows_service(self, service: str) -> bool:
        return self.provider_of(service) is not None

    def loose(self, model: Any, name: str) -> bool:
        """True when `name` matches `model` only by a prefix (or infix) with an unknown remainder."""
        from genai_prices.types import ClauseAnd, ClauseContains, ClauseOr, ClauseStartsWith

        name = name.lower()
        if name == model.id:
            return False
        verdicts: list[bool] = []

        def visit(clause: Any) -> None:
            if isinstance(clause, ClauseOr):
                for inner in clause.or_:
                    visit(inner)
            elif not clause.is_match(name):
                return
            elif isinstance(clause, ClauseStartsWith):
                verdicts.append(not _stamped(name, len(clause.starts_with)))
            elif isinstance(clause, ClauseContains):
                before, literal, _ = name.partition(clause.contains.lower())
                path = not before or before.endswith(("/", "."))
                verdicts.append(not (path and _stamped(name, len(before) + len(literal))))
            elif isinstance(clause, ClauseAnd):
                starts = [c for c in clause.and_ if isinstance(c, ClauseStartsWith)]
                verdicts.append(any(not _stamped(name, len(c.starts_with)) for c in starts))
            else:  # equals, ends_with, a regex: as specific as the data makes them
                verdicts.append(False)

        visit(model.match)
        return bool(verdicts) and all(verdicts)

    def date_dependent_only(self, model: Any) -> bool:
        """True when the model's price depends on the date alone, so it can be cached per day."""
        from genai_prices.types import TimeOfDateConstraint

        prices = model.prices
        return not (isinstance(prices, list) and any(isinstance(p.constraint, TimeOfDateConstraint) for p in prices))

    def entry(
        self,
        provider: Any,
        model: Any,
        at: dt.datetime,
        tier: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> PriceEntry | None:
        """The model's prices in force at `at` (for `tier`, through its price variants) as an entry.

        None when a tier is asked for and no variant of the model prices it then.
        """
        from genai_prices.types import StartDateConstraint

        since: dt.date | None = None
        if isinstance(model.prices, list):
            chosen = model.prices[0]
            for conditional in reversed(model.prices):
                if conditional.constraint is None or conditional.constraint.active(at):
                    chosen = conditional
                    break
            if isinstance(chosen.constraint, StartDateConstraint):
                since = chosen.constraint.start_date
            prices = dict(chosen.prices.__dict__)
        else:
            prices = dict(model.prices.__dict__)
        if tier is not None:
            # genai-prices applies variants only to the provider's own models, not to fallbacks.
            own = any(model is m for m in provider.models)
            overrides: dict[str, Any] = {}
            matched = False
            for variant in (model.price_variants or ()) if own else ():
                if variant.constraint is not None and not variant.constraint.active(at):
                    continue
                if not all((context or {}).get(k) == v for k, v in variant.when.items()):
                    continue
                matched = True
                if isinstance(variant.constraint, StartDateConstraint):
                    since = max(since or variant.constraint.start_date, variant.constraint.start_date)
                for key, value in variant.prices.__dict__.items():
                    if value is not None:
                        overrides.setdefault(key, value)
            if not matched:
                return None
            prices.update(overrides)
        return PriceEntry(
            service=provider.id,
            model=model.id,
            rates=self._rates(prices),
            source=self.source,
            kind="genai-prices",
            since=since,
            note=model.price_comments or "",
            service_tier=tier,
            confidence="genai-prices",
            granularity="per token" if "input_mtok" in prices or "output_mtok" in prices else "",
        )

    def _rates(self, prices: Mapping[str, Any]) -> dict[str, Rate]:
        from genai_prices.types import TieredPrices

        rates: dict[str, Rate] = {}
        for price_key, value in prices.items():
            unit = self._units.get(price_key)
            if unit is None or value is None:
                continue
            meter, per = unit
            if isinstance(value, TieredPrices):
                usd: Any = Tiered(value.base, tuple((t.start, t.price) for t in value.tiers))
            else:
                usd = value
            rates[meter] = Rate(usd, per)
        # Our `characters` (TTS text) is the whole that genai-prices' input_characters is part of.
        if "input_characters" in rates and "characters" not in rates:
            rates["characters"] = rates["input_characters"]
        return rates

    def models(self, service: str) -> Iterator[tuple[Any, Any]]:
        for provider in self._snapshot.providers:
            if provider.id == service:
                for model in provider.models:
                    yield provider, model

    def names(self, service: str) -> list[str]:
        """Real model ids (and the exact names they answer to), for "did you mean" hints."""
        from genai_prices.types import ClauseEquals, ClauseOr

        out: list[str] = []
        for _, model in self.models(service):
            out.append(model.id)
            clauses = model.match.or_ if isinstance(model.match, ClauseOr) else [model.match]
            out.extend(clause.equals for clause in clauses if isinstance(clause, ClauseEquals))
        return out

    def services(self) -> list[str]:
        return [p.id for p in self._snapshot.providers]


_CURRENT: dict[str, GenaiPrices] = {}


def current() -> GenaiPrices:
    """genai-prices data from the newest stored snapshot, else the package's; one instance per snapshot."""
    from .snapshots import newest, prices_dir

    directory = prices_dir()
    try:
        records = sorted(directory.glob("genai-prices-*.meta.json"))
        # The newest snapshot's identity, its data file's size and time included: one changed on disk is read again.
        data = records[-1].with_name(records[-1].name.removesuffix(".meta.json") + ".json") if records else None
        stat = data.stat() if data is not None else None
        key = f"{data}:{stat.st_size}:{stat.st_mtime_ns}" if data is not None and stat is not None else "bundled"
    except OSError:
        records, key = [], "bundled"
    found = _CURRENT.get(key)
    if found is None:
        stored = newest(directory) if records else None
        found = GenaiPrices(stored[1], stored[0]) if stored else _CURRENT.get("bundled") or GenaiPrices()
        if len(_CURRENT) > 16:
            _CURRENT.clear()
        _CURRENT[key] = found
    return found
