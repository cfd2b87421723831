"""costledger: what your AI agents really cost, per session, user, agent, service and plan.

The public surface is small and re-exported here. Heavy parts (SQLAlchemy, the
genai-prices data) load on first use so that `import costledger` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigError, CostledgerError, InvalidEvent, UnknownPrice

if TYPE_CHECKING:
    from .client import Client
    from .config import Config, load_config
    from .events import UsageEvent
    from .ledger import Ledger, Recorded, Session
    from .pricing import Catalog, Cost, price

__version__ = "0.1.0"

_LAZY = {
    "Client": "client",
    "Ledger": "ledger",
    "Session": "ledger",
    "Recorded": "ledger",
    "price": "pricing",
    "Catalog": "pricing",
    "Cost": "pricing",
    "Config": "config",
    "load_config": "config",
    "UsageEvent": "events",  # pydantic loads with it: not for a command that only reads
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'costledger' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Catalog",
    "Client",
    "Config",
    "ConfigError",
    "Cost",
    "CostledgerError",
    "InvalidEvent",
    "Ledger",
    "Recorded",
    "Session",
    "UnknownPrice",
    "UsageEvent",
    "__version__",
    "load_config",
    "price",
]
