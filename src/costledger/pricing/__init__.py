"""Pricing: pure functions from usage and a moment to an exact cost (no I/O after load)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from .. import clock
from .meters import STANDARD_METERS, readings

if TYPE_CHECKING:
    from .catalog import Catalog
    from .cost import Cost, cost_of
    from .entries import PriceEntry, Rate, Tiered, parse_entry

# Loaded on first use: `import costledger` reaches the meters (the usage event needs
# them) and must not pay for the catalog's TOML, difflib and data classes too.
_LAZY = {
    "Catalog": "catalog",
    "Cost": "cost",
    "cost_of": "cost",
    "PriceEntry": "entries",
    "Rate": "entries",
    "Tiered": "entries",
    "parse_entry": "entries",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


_default: Catalog | None = None


def default_catalog() -> Catalog:
    global _default
    if _default is None:
        from .catalog import Catalog

        _default = Catalog()
    return _default


def price(
    service: str,
    model: str | None = None,
    *,
    at: dt.datetime | None = None,
    catalog: Catalog | None = None,
    service_tier: str | None = None,
    **usage: Any,
) -> Cost:
    """Price one usage: `price("anthropic", "claude-sonnet-4-0", input_tokens=8000, output_tokens=350)`.

    Any meter is a keyword (`cache_write_1h_tokens=…`, `input_audio_tokens=…`, `phone_minutes=…`);
    `service_tier` ("batch", "flex", "priority", "fast"…) prices that tier's rates. Raises
    UnknownPrice (with close matches, or the reason) rather than guess, ValueError for bad quantities.
    """
    catalog = catalog or default_catalog()
    when = at or clock.now()
    if when.tzinfo is None:
        raise ValueError("at must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return catalog.price(service, model, readings(usage, catalog.custom_meters), when, service_tier)


__all__ = [
    "STANDARD_METERS",
    "Catalog",
    "Cost",
    "PriceEntry",
    "Rate",
    "Tiered",
    "cost_of",
    "default_catalog",
    "parse_entry",
    "price",
    "readings",
]
