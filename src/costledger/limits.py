"""The service's limits: what one client can make the server hold, count or wait for.

Set in costledger.toml's `[server]` table, overridden by environment variables (which `costledger
serve` also sets from its options, for its workers). The numbers a client cannot change — an event's
cost, the date window, a batch's size — live with what they bound (money.py, dates.py, server/schemas.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .pricing.entries import EntryError


@dataclass(frozen=True)
class Limits:
    # Distinct services, and distinct service+model pairs, per UTC day that ingest keys may bring
    # (admin keys and the library are not limited): beyond, the events naming a new one get a 422.
    max_services_per_day: int = 100
    max_models_per_day: int = 1000
    # /metrics answers without a key only when this is true (it shows cost per service).
    metrics_public: bool = False
    # Distinct values one Prometheus label may take in a process; later ones are counted as "other".
    metric_label_values: int = 50
    # A connection must send its request's headers within header_timeout seconds of opening (or of
    # its previous request), and its body within body_timeout seconds of the headers; at most
    # max_connections are open per worker (the oldest still sending headers is closed for a new one).
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000


ENV = {
    "max_services_per_day": "COSTLEDGER_MAX_SERVICES_PER_DAY",
    "max_models_per_day": "COSTLEDGER_MAX_MODELS_PER_DAY",
    "metrics_public": "COSTLEDGER_METRICS_PUBLIC",
    "metric_label_values": "COSTLEDGER_METRIC_LABEL_VALUES",
    "header_timeout": "COSTLEDGER_HEADER_TIMEOUT",
    "body_timeout": "COSTLEDGER_BODY_TIMEOUT",
    "max_connections": "COSTLEDGER_MAX_CONNECTIONS",
}
_MINIMUM: dict[str, float] = {"header_timeout": 0.1, "body_timeout": 0.1}


def _value(name: str, kind: type, raw: object) -> Any:
    if kind is bool:
        if isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(raw, bool):
            return raw
        raise EntryError(name, f"expected true or false, got {raw!r}")
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = kind(raw)
    except (TypeError, ValueError):
        raise EntryError(name, f"expected a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if number < _MINIMUM.get(name, 1):
        raise EntryError(name, f"must be at least {_MINIMUM.get(name, 1)}, not {raw!r}")
    return number


def parse_limits(raw: Mapping[str, Any]) -> Limits:
    """The `[server]` table of costledger.toml (EntryError naming a bad key)."""
    kinds = {f.name: type(f.default) for f in fields(Limits)}
    unknown = set(raw) - set(kinds)
    if unknown:
        raise EntryError(sorted(unknown)[0], f"unknown key; expected one of {', '.join(sorted(kinds))}")
    return Limits(**{name: _value(name, kinds[name], value) for name, value in raw.items()})


def from_environment(base: Limits) -> Limits:
    """`base` with the environment's overrides; ValueError naming the variable if one is malformed."""
    kinds = {f.name: type(f.default) for f in fields(Limits)}
    found: dict[str, Any] = {}
    for name, variable in ENV.items():
        text = os.environ.get(variable)
        if text:
            try:
                found[name] = _value(name, kinds[name], text)
            except EntryError as exc:
                raise ValueError(f"${variable}: {str(exc).split(': ', 1)[1]}") from None
    return replace(base, **found)


__all__ = ["ENV", "Limits", "from_environment", "parse_limits"]
