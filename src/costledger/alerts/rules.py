"""Alert rules: where they come from (defaults, environment, costledger.toml, the CLI)
and what each one says.

A rule's `name` is its identity: "one alert per rule per subject per period" is
enforced on it in the fired-alerts table, so an unchanged rule never fires twice for
the same day, month or session, whichever process evaluates it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..config import Config, _line_of
from ..errors import ConfigError
from ..money import usd
from ..pricing.entries import EntryError, money
from .totals import ALIASES

# The tracker we replace alerted at these; its environment variables still set them.
DEFAULTS = {
    "session_total": ("ALERT_SESSION_COST", Decimal("5")),
    "daily_total": ("ALERT_DAILY_COST", Decimal("100")),
    "monthly_total": ("ALERT_MONTHLY_COST", Decimal("2000")),
}

_KEYS = {"kind", "name", "threshold_usd", "per", "only", "factor", "min_events", "channels"}


@dataclass(frozen=True)
class Rule:
    """One alert rule. `per` is a dimension (user_id, agent, tier, mode, service) or None for the total;
    `only` limits it to one value of that dimension."""

    kind: str
    threshold: Decimal | None = None
    per: str | None = None
    only: str | None = None
    factor: Decimal | None = None  # spike: today > factor × trailing 7-day average
    min_events: int = 1  # unpriced: how many unpriced events in a day make an alert
    channels: tuple[str, ...] = ("log",)
    name: str = ""
    source: str = "config"  # default | env | config | cli
    id: int | None = None  # rules added from the CLI

    def spec(self) -> dict[str, Any]:
        """The rule as an [[alerts]] table (what the CLI stores and lists)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.threshold is not None:
            out["threshold_usd"] = usd(self.threshold)
        if self.per:
            out["per"] = "user" if self.per == "user_id" else self.per
        if self.only is not None:
            out["only"] = self.only
        if self.factor is not None:
            out["factor"] = usd(self.factor)
        if self.kind == "unpriced":
            out["min_events"] = self.min_events
        out["channels"] = list(self.channels)
        return out

    def describe(self) -> str:
        from .kinds import KINDS

        return KINDS[self.kind].describe(self)


def default_name(rule: Rule) -> str:
    parts = [rule.kind]
    if rule.per:
        parts.append(f"per {rule.per}" + (f"={rule.only}" if rule.only is not None else ""))
    if rule.threshold is not None:
        parts.append(f">{usd(rule.threshold)}")
    if rule.factor is not None:
        parts.append(f"x{usd(rule.factor)}")
    if rule.kind == "unpriced" and rule.min_events != 1:
        parts.append(f">={rule.min_events}")
    return " ".join(parts)


def parse_rule(raw: Mapping[str, Any], source: str = "config", rule_id: int | None = None) -> Rule:
    """An [[alerts]] table (or a CLI-added spec) → Rule; EntryError names the offending key."""
    from .kinds import KINDS

    extra = set(raw) - _KEYS
    if extra:
        raise EntryError(sorted(extra)[0], f"unknown key; expected one of {', '.join(sorted(_KEYS))}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise EntryError("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    spec = KINDS[kind]
    threshold = money(raw["threshold_usd"], "threshold_usd") if raw.get("threshold_usd") is not None else None
    if threshold is None and spec.needs_threshold:
        raise EntryError("threshold_usd", f"is required for {kind}")
    per = raw.get("per")
    if per is not None:
        if per not in ALIASES or ALIASES[per] not in spec.per:
            allowed = ", ".join(sorted({"user" if p == "user_id" else p for p in spec.per})) or "nothing"
            raise EntryError("per", f"{kind} can be per {allowed}, not {per!r}")
        per = ALIASES[per]
    only = raw.get("only")
    if only is not None and (per is None or not isinstance(only, str)):
        raise EntryError("only", "needs `per` and a string value")
    factor = money(raw["factor"], "factor") if raw.get("factor") is not None else None
    if kind == "spike":
        factor = factor if factor is not None else Decimal(3)
        if factor <= 0:
            raise EntryError("factor", "must be above 0")
    elif factor is not None:
        raise EntryError("factor", "only a spike rule has a factor")
    min_events = raw.get("min_events", 1)
    if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 1:
        raise EntryError("min_events", f"expected a whole number ≥ 1, got {min_events!r}")
    channels = raw.get("channels", ["log"])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) and c for c in channels):
        raise EntryError("channels", 'expected a list of channel names such as ["slack", "log"]')
    rule = Rule(
        kind=kind, threshold=threshold, per=per, only=only, factor=factor, min_events=min_events,
        channels=tuple(dict.fromkeys(channels)), source=source, id=rule_id,
    )  # fmt: skip
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name or len(name) > 200):
        raise EntryError("name", "expected a short string")
    return replace(rule, name=name or default_name(rule))


def config_error(config: Config, section: str, index: int, exc: EntryError) -> ConfigError:
    name = str(config.path) if config.path else "costledger.toml"
    line = 1
    if config.path is not None:
        with contextlib.suppress(OSError):
            line = _line_of(config.path.read_text(encoding="utf-8"), section, index, exc.key.split(".")[0])
    return ConfigError(f"{name}:{line}: {section}[{index}].{exc.key}: {str(exc).split(': ', 1)[1]}")


def _env_threshold(variable: str, default: Decimal) -> Decimal:
    value = os.environ.get(variable)
    if value is None or not value.strip():
        return default
    try:
        return money(value.strip(), variable)
    except EntryError as exc:
        raise ConfigError(f"${variable}: {str(exc).split(': ', 1)[1]}") from None


@dataclass(frozen=True)
class RuleSet:
    """The rules that do not change while a ledger is open: defaults, environment, config."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Config, channels: Sequence[str] = ("log",)) -> RuleSet:
        known = set(channels) | {"log"}
        configured: list[Rule] = []
        for index, raw in enumerate(config.alerts):
            try:
                rule = parse_rule(raw)
                unknown = [c for c in rule.channels if c not in known]
                if unknown:
                    raise EntryError("channels", f"no [channels.{unknown[0]}] table configures {unknown[0]!r}")
            except EntryError as exc:
                raise config_error(config, "alerts", index, exc) from None
            configured.append(rule)
        replaced = {r.kind for r in configured if r.per is None}
        defaults = []
        for kind, (variable, amount) in DEFAULTS.items():
            # A global rule of the same kind in the config replaces the built-in one.
            if kind in replaced:
                continue
            threshold = _env_threshold(variable, amount)
            source = "env" if os.environ.get(variable, "").strip() else "default"
            rule = Rule(kind=kind, threshold=threshold, source=source)
            defaults.append(replace(rule, name=default_name(rule)))
        if "unpriced" not in replaced:
            rule = Rule(kind="unpriced", source="default")
            defaults.append(replace(rule, name=default_name(rule)))
        return cls(tuple(defaults + configured))
