"""The catalog: which price is in force for a service/model at a moment.

Layers, highest first: the user's overrides, our corrections, our packaged
non-LLM prices, genai-prices. Within a layer the latest entry whose `since` has
come wins; an entry never applies before its date, so history keeps its prices.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

from ..errors import UnknownPrice
from .cost import Cost, cost_of
from .entries import PriceEntry, parse_entry
from .llm import GenaiPrices, current
from .meters import STANDARD_METERS

# The providers `costledger prices` lists from genai-prices unless asked for others.
MAIN_LLM_SERVICES = ("anthropic", "openai", "google")
# Tiers that are the standard price, however a provider spells it.
STANDARD_TIERS = frozenset(("", "standard", "default"))
# Prefixes that name where a model is served rather than which model it is (models/gemini-2.5-flash).
_PATH_PREFIXES = frozenset(("models",))

# The model names our entries are indexed under as given, with or without genai-prices: a default
# entry's "" and a service-wide "*" (_canonical leaves both alone).
_AS_GIVEN = frozenset(("", "*"))

_USE_CURRENT: Any = object()  # the default of Catalog(genai=…): the newest genai-prices data


@functools.cache
def _data() -> dict[str, Any]:
    """services.toml, read once per process (read-only: nothing changes what it returns)."""
    text = resources.files(__package__).joinpath("data/services.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def builtin_entries() -> list[PriceEntry]:
    """The packaged prices and corrections (pricing/data/services.toml)."""
    data = _data()
    entries = [parse_entry(raw, kind="builtin") for raw in data.get("prices", [])]
    entries += [parse_entry(raw, kind="correction") for raw in data.get("corrections", [])]
    return entries


def normal_tier(tier: str | None) -> str | None:
    """A service tier as priced: None for the standard price, else lower-cased."""
    if tier is None:
        return None
    tier = tier.strip().lower()
    return None if tier in STANDARD_TIERS else tier


class Catalog:
    """Prices in force at any moment, from every layer. Pure: no I/O after construction."""

    def __init__(
        self,
        overrides: Iterable[PriceEntry] = (),
        *,
        aliases: Mapping[str, str] | None = None,
        builtin: Iterable[PriceEntry] | None = None,
        genai: GenaiPrices | None = _USE_CURRENT,
        plans: Mapping[str, str] | None = None,
    ) -> None:
        data = _data()
        self._genai: GenaiPrices | None = current() if genai is _USE_CURRENT else genai
        self.entries: list[PriceEntry] = [*(builtin_entries() if builtin is None else builtin), *overrides]
        self.aliases = {k.lower(): v.lower() for k, v in (aliases or {}).items()}
        # The plan of each service whose price depends on it (Cartesia's credits): yours, else ours.
        self.plans = {**data.get("default_plans", {}), **{k.lower(): v.lower() for k, v in (plans or {}).items()}}
        self.tier_contexts: dict[str, dict[str, str]] = data.get("service_tiers", {})
        self._index: dict[tuple[str, str], list[PriceEntry]] | None = None
        self._unnamed_index: dict[tuple[str, str], list[PriceEntry]] | None = None
        self._cache: dict[tuple[str, str | None, dt.date, str | None], PriceEntry | UnknownPrice] = {}
        # Hints for unknown names, by (service, model): an unknown model is looked up again each day it
        # appears (prices are per day), and its hint compares it with every known name.
        self._hints: dict[tuple[str, str | None], list[str]] = {}
        self.custom_meters = frozenset(meter for e in self.entries for meter in e.rates if meter not in STANDARD_METERS)

    @property
    def genai(self) -> GenaiPrices | None:
        return self._genai

    def in_plan(self, entry: PriceEntry) -> bool:
        """False for an entry of a plan of its service other than the one chosen."""
        return entry.plan is None or entry.plan == self.plans.get(entry.service)

    def data_info(self) -> dict[str, Any]:
        """Where the genai-prices data in use came from and how current it is (for listings)."""
        if self._genai is None:
            return {}
        origin = self._genai.origin
        return {
            "package": f"genai-prices {self._genai.version}",
            "origin": origin.kind,
            "source": origin.source,
            "fetched_at": origin.fetched_at.isoformat() if origin.fetched_at else None,
            "data_date": self._genai.data_date.isoformat() if self._genai.data_date else None,
        }

    # -- resolution ---------------------------------------------------------------------------

    def _canonical(self, service: str, model: str) -> tuple[str, str]:
        """The name genai-prices knows this model by, so every spelling shares one override."""
        if self._genai is not None and model != "*":
            found = self._genai.find(service, model)
            if found is not None:
                return service, found[1].id
        return service, model

    def _indexed(self, key: Callable[[str, str], tuple[str, str] | None]) -> dict[tuple[str, str], list[PriceEntry]]:
        """Our entries in the plans chosen, under key(service, name) of each name they have (None: not
        that one), and the default entries under (service, "")."""
        index: dict[tuple[str, str], list[PriceEntry]] = {}
        for entry in self.entries:
            if not self.in_plan(entry):
                continue
            for name in (entry.model, *entry.aliases):
                found = key(entry.service, name)
                if found is not None:
                    index.setdefault(found, []).append(entry)
            if entry.default:
                index.setdefault((entry.service, ""), []).append(entry)
        return index

    @property
    def index(self) -> dict[tuple[str, str], list[PriceEntry]]:
        """Our entries by (service, model under genai-prices' name), (service, "*") and (service, "")."""
        # Built on first use: canonical names need genai-prices loaded.
        if self._index is None:
            self._index = self._indexed(self._canonical)
        return self._index

    @property
    def _unnamed(self) -> dict[tuple[str, str], list[PriceEntry]]:
        """The part of `index` under (service, "*") and (service, ""), made without genai-prices: an
        event that names no model (a payment, a phone call) is priced without loading its data
        (a third of a second, on every command that prices a payment fee)."""
        if self._unnamed_index is None:
            self._unnamed_index = self._indexed(lambda service, name: (service, name) if name in _AS_GIVEN else None)
        return self._unnamed_index

    def _alias(self, service: str, model: str | None) -> tuple[str, str | None]:
        if model is None:
            return service, None
        target = self.aliases.get(f"{service}:{model}") or self.aliases.get(model)
        if target is None:
            return service, model
        if ":" in target:
            alias_service, alias_model = target.split(":", 1)
            return alias_service, alias_model
        return service, target

    def resolve(self, service: str, model: str | None, at: dt.datetime, service_tier: str | None = None) -> PriceEntry:
        """The entry that prices service/model (at that service tier) at `at` (timezone-aware), or UnknownPrice."""
        day = at.date() if at.tzinfo is dt.UTC else at.astimezone(dt.UTC).date() if at.tzinfo else at.date()
        # Looked up as given first: names arrive spelled the same way event after event.
        given = (service, model, day, service_tier)
        cached = self._cache.get(given)
        if cached is None:
            service = service.lower()
            model = (model or "").strip().lower() or None
            tier = normal_tier(service_tier)
            key = (service, model, day, tier)
            cached = self._cache.get(key)
            if cached is None:
                cached, cacheable = self._resolve(service, model, at, day, tier)
                if cacheable:
                    if len(self._cache) > 100_000:  # bounded: clients choose the names
                        self._cache.clear()
                    self._cache[key] = self._cache[given] = cached
        if isinstance(cached, UnknownPrice):
            # The cached exception is raised again and again: without dropping its traceback, each
            # raise would chain the new frames onto the old ones, keeping every caller's locals (a
            # batch of events, an import's lines) alive for as long as the catalog.
            raise cached.with_traceback(None)
        return cached

    def _plain(self, service: str, model: str) -> str:
        """The model without a prefix naming its provider or a path: anthropic/claude-…, models/gemini-…"""
        while "/" in model:
            head, rest = model.split("/", 1)
            same = head == service or head in _PATH_PREFIXES
            if not same and self._genai is not None:
                same = self._genai.provider_of(head) == service and self._genai.provider_of(service) == service
            if not same or not rest:
                break
            model = rest
        return model

    def _resolve(
        self, service: str, model: str | None, at: dt.datetime, day: dt.date, tier: str | None
    ) -> tuple[PriceEntry | UnknownPrice, bool]:
        service, model = self._alias(service, model)
        if model:
            model = self._plain(service, model)
        found = self._genai.find(service, model) if (self._genai is not None and model) else None
        names = [(service, model or "")]
        if found is not None:
            names.append((service, found[1].id))
        names.append((service, "*"))
        ours = self._ours(names, day, tier)
        if ours is not None:
            return ours, True
        if found is not None and self._genai is not None and model:
            provider, info = found
            if self._genai.loose(info, model):
                # claude-opus-4-6-fast is not claude-opus-4-6 (fast mode bills 6×): never guessed.
                return UnknownPrice(service, model, self.suggest(service, model), reason="not a known model id"), True
            entry = self._genai.entry(provider, info, at, tier, self.price_context(tier))
            if entry is None:
                return UnknownPrice(service, model, reason=f"no price for service tier {tier!r}"), True
            return entry, self._genai.date_dependent_only(info)
        if tier is not None and self._ours(names, day, None) is not None:
            return UnknownPrice(service, model, reason=f"no price for service tier {tier!r}"), True
        return UnknownPrice(service, model, self.suggest(service, model)), True

    def price_context(self, tier: str | None) -> dict[str, str] | None:
        """genai-prices' price_context for a tier: batch is `processing`, Claude's fast mode `speed`…"""
        if tier is None:
            return None
        return {"service_tier": tier, **self.tier_contexts.get(tier, {})}

    def _ours(self, names: Iterable[tuple[str, str]], day: dt.date, tier: str | None = None) -> PriceEntry | None:
        """Our winning entry (override > correction > builtin; exact model > "*"; latest since) on `day`."""
        candidates = [
            (entry.precedence, entry.model != "*", entry.since or dt.date.min, entry)
            for name in names
            for entry in (self._unnamed if name[1] in _AS_GIVEN else self.index).get(name, ())
            if (entry.since is None or entry.since <= day) and entry.service_tier == tier
        ]
        return max(candidates, key=lambda c: c[:3])[3] if candidates else None

    def price(
        self,
        service: str,
        model: str | None,
        usage: Mapping[str, int | Any],
        at: dt.datetime,
        service_tier: str | None = None,
    ) -> Cost:
        return cost_of(usage, self.resolve(service, model, at, service_tier))

    # -- what is known ------------------------------------------------------------------------

    def services(self) -> list[str]:
        ours = {e.service for e in self.entries}
        theirs = set(self._genai.services()) if self._genai is not None else set()
        return sorted(ours | theirs)

    def suggest(self, service: str, model: str | None, limit: int = 3) -> list[str]:
        """Close names, best first: the longest shared prefix, then overall likeness."""
        found = self._hints.get((service, model))
        if found is None:
            if len(self._hints) > 10_000:  # bounded: clients choose the names
                self._hints.clear()
            found = self._hints[(service, model)] = self._suggest(service, model)
        return found[:limit]

    def _suggest(self, service: str, model: str | None) -> list[str]:
        # Every close name, ranked (get_close_matches keeps at most 12): suggest() cuts it to its limit.
        if model is None or service not in self.services():
            pool = self.services()
            target = service
        else:
            pool = [e.model for e in self.entries if e.service == service and e.model != "*"]
            pool += [a for e in self.entries if e.service == service for a in e.aliases]
            if self._genai is not None:
                pool += self._genai.names(service)
            target = model
        # Sorted pool and a name tie-break: the same question gets the same hint in every
        # process (the hint is stored with unpriced events).
        close = difflib.get_close_matches(target, sorted(set(pool)), n=12, cutoff=0.5)

        def rank(name: str) -> tuple[int, float, str]:
            prefix = len(_common_prefix(name, target))
            return -prefix, -difflib.SequenceMatcher(None, name, target).ratio(), name

        return sorted(set(close), key=rank)

    def in_force(self, at: dt.datetime, services: Iterable[str] | None = None) -> list[PriceEntry]:
        """Every entry that prices something at `at`: ours, then genai-prices' for `services`."""
        wanted = set(services) if services is not None else None
        out: dict[tuple[str, str, str | None], PriceEntry] = {}
        for entry in self.entries:
            if (wanted is not None and entry.service not in wanted) or not self.in_plan(entry):
                continue
            try:
                name = None if entry.model == "*" else entry.model
                chosen = self.resolve(entry.service, name, at, entry.service_tier)
            except UnknownPrice:
                continue  # all its entries start later
            out[(chosen.service, chosen.model, chosen.service_tier)] = chosen
        if self._genai is not None:
            day = at.astimezone(dt.UTC).date()
            for service in sorted(wanted if wanted is not None else MAIN_LLM_SERVICES):
                for provider, info in self._genai.models(service):
                    # Listed by genai-prices' own id, not re-resolved by name: some ids
                    # (openai's "ft:gpt-4o") are not names the model matches.
                    if self._ours([(provider.id, info.id)], day) is None:
                        listed = self._genai.entry(provider, info, at)
                        if listed is not None:
                            out.setdefault((provider.id, info.id, None), listed)
        return sorted(out.values(), key=lambda e: (e.service, e.model, e.service_tier or ""))


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def catalog_from_config(config: Any) -> Catalog:
    """A catalog with the overrides and aliases of a loaded costledger.toml."""
    if config is None:
        return Catalog()
    return Catalog(config.prices, aliases=config.aliases, plans=config.service_plans)
