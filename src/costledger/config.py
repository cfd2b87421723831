"""costledger.toml: the ledger's database, price overrides, aliases, fixed costs, plans, session types,
alerts, webhooks, the server's limits.

Every section is optional. Errors name the file, the line and the key, because a
price typo found at 3 a.m. should take one look to fix. Without an explicit path the
file is found from the working directory upwards, as git finds its repository, so
every command run inside a project reads that project's ledger and plans.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .config_fields import date, only, required
from .errors import ConfigError
from .limits import Limits, parse_limits
from .pricing.entries import EntryError, PriceEntry, money, parse_entry
from .storage import StorageSettings, parse_storage
from .webhook_settings import StripeSettings, TwilioSettings, parse_stripe, parse_twilio

ENV_VAR = "COSTLEDGER_CONFIG"
FILE_NAME = "costledger.toml"


@dataclass(frozen=True)
class FixedCost:
    name: str
    monthly_usd: Decimal
    since: dt.date
    vendor: str = ""
    until: dt.date | None = None


@dataclass(frozen=True)
class Plan:
    name: str
    price_usd: Decimal
    period: str = "month"  # month | call | session
    included_sessions: int | None = None
    tier: str = ""  # the tier label events carry; defaults to the plan's name
    modes: tuple[str, ...] = ()
    # Flag the plan when its margin at limit falls below this share of its price (0.2 = 20 %).
    min_margin_share: Decimal | None = None


@dataclass(frozen=True)
class SessionType:
    mode: str
    estimate_usd: tuple[Decimal, Decimal]
    agents: int | None = None
    extra_cost_usd: Decimal = Decimal(0)
    # Prompt tokens every LLM call of this mode repeats (system prompt, tools): what caching could serve.
    prefix_tokens: int | None = None


@dataclass(frozen=True)
class Subscription:
    """A user on a plan from `since` (inclusive) to `until` (inclusive; open if None)."""

    user_id: str
    plan: str
    since: dt.date
    until: dt.date | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    # The ledger this config names (`database = "…"`): a postgresql:// URL as written, or a
    # SQLite path made absolute against the config file's directory.
    database: str | None = None
    prices: tuple[PriceEntry, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    fixed_costs: tuple[FixedCost, ...] = ()
    plans: tuple[Plan, ...] = ()
    session_types: tuple[SessionType, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    # Sections other capabilities read (alerts, channels, budgets): kept as validated TOML.
    alerts: tuple[Mapping[str, Any], ...] = ()
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    budgets: tuple[Mapping[str, Any], ...] = ()
    server: Limits = field(default_factory=Limits)  # [server]: the service's limits (limits.py)
    stripe: StripeSettings = field(default_factory=StripeSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    # The plan you are on at services whose prices depend on it: {"cartesia": "scale"}.
    service_plans: Mapping[str, str] = field(default_factory=dict)
    storage: StorageSettings = field(default_factory=StorageSettings)  # [storage]: SQLite's memory (storage.py)


_SECTIONS = {
    "prices", "aliases", "fixed_costs", "plans", "session_types", "subscriptions", "alerts", "channels", "budgets",
    "stripe", "twilio",
    "service_plans", "server", "storage",
}  # fmt: skip
_KEYS = {"database"}  # top-level keys that are not sections


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest costledger.toml in `start` (default: the working directory) or a directory above it."""
    here = Path(start) if start is not None else Path.cwd()
    for directory in (here, *here.parents):
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load `path`, else $COSTLEDGER_CONFIG, else the nearest costledger.toml upwards, else defaults."""
    if path is None:
        path = os.environ.get(ENV_VAR) or find_config()
        if path is None:
            return Config()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    return parse_config(text, file)


def parse_config(text: str, file: Path | None = None) -> Config:
    name = str(file) if file else "costledger.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {exc}") from None

    def fail(section: str, index: int | None, key: str, message: str) -> ConfigError:
        line = _line_of(text, section, index, key.split(".")[0])
        where = f"{section}[{index}].{key}" if index is not None else f"{section}.{key}" if key else section
        return ConfigError(f"{name}:{line}: {where}: {message}")

    unknown = set(data) - _SECTIONS - _KEYS
    if unknown:
        section = sorted(unknown)[0]
        raise fail(section, None, "", f"unknown section; expected one of {', '.join(sorted(_SECTIONS | _KEYS))}")
    database = data.get("database")
    if database is not None and (not isinstance(database, str) or not database.strip()):
        line = next((n for n, t in enumerate(text.splitlines(), 1) if (m := _KEY.match(t)) and m[1] == "database"), 1)
        raise ConfigError(f"{name}:{line}: database: expected a SQLite path or a postgresql:// URL, got {database!r}")

    prices = []
    for i, raw in enumerate(_tables(data, "prices", fail)):
        try:
            prices.append(parse_entry(raw, kind="override"))
        except EntryError as exc:
            raise fail("prices", i, exc.key, str(exc).split(": ", 1)[1]) from None

    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise fail("aliases", None, "", 'expected "name" = "service:model" pairs')

    def read(section: str, builder: Any) -> tuple[Any, ...]:
        out = []
        for i, raw in enumerate(_tables(data, section, fail)):
            try:
                out.append(builder(raw))
            except EntryError as exc:
                raise fail(section, i, exc.key, str(exc).split(": ", 1)[1]) from None
        return tuple(out)

    service_plans = data.get("service_plans", {})
    if not isinstance(service_plans, dict) or not all(isinstance(v, str) for v in service_plans.values()):
        raise fail("service_plans", None, "", 'expected service = "plan" pairs, e.g. cartesia = "scale"')
    known = _known_plans()
    for service, plan in service_plans.items():
        offered = known.get(service.lower())
        if not offered:
            raise fail("service_plans", None, service, f"no packaged price depends on a plan of {service!r}")
        if plan.lower() not in offered:
            raise fail("service_plans", None, service, f"unknown plan {plan!r}; expected one of {', '.join(offered)}")

    channels = data.get("channels", {})
    if not isinstance(channels, dict) or not all(isinstance(v, dict) for v in channels.values()):
        raise fail("channels", None, "", "expected [channels.NAME] tables")
    plans = read("plans", _plan)
    subscriptions = read("subscriptions", _subscription)
    plan_names = {plan.name for plan in plans}
    for i, subscription in enumerate(subscriptions):
        if subscription.plan not in plan_names:
            raise fail("subscriptions", i, "plan", f"no [[plans]] is named {subscription.plan!r}")

    def table(section: str, builder: Any) -> Any:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise fail(section, None, "", f"expected a [{section}] table")
        try:
            return builder(raw)
        except EntryError as exc:
            raise fail(section, None, exc.key, str(exc).split(": ", 1)[1]) from None

    stripe = table("stripe", parse_stripe)
    for price, plan in stripe.plans.items():
        if plan not in plan_names:
            raise fail("stripe", None, "plans", f"{price} maps to {plan!r}, but no [[plans]] is named so")

    limits = table("server", parse_limits)
    return Config(
        path=file,
        database=_database(database, file),
        prices=tuple(prices),
        aliases=dict(aliases),
        fixed_costs=read("fixed_costs", _fixed_cost),
        plans=plans,
        session_types=read("session_types", _session_type),
        subscriptions=subscriptions,
        alerts=tuple(_tables(data, "alerts", fail)),
        channels=channels,
        budgets=tuple(_tables(data, "budgets", fail)),
        stripe=stripe,
        twilio=table("twilio", parse_twilio),
        service_plans={k.lower(): v.lower() for k, v in service_plans.items()},
        server=limits,
        storage=table("storage", parse_storage),
    )


def _database(value: str | None, file: Path | None) -> str | None:
    """A URL as written; a path relative to the config's own directory, so any working directory agrees."""
    if value is None:
        return None
    value = value.strip()
    if "://" in value:
        return value
    path = Path(value).expanduser()
    if not path.is_absolute() and file is not None:
        path = file.resolve().parent / path
    return str(path)


def _known_plans() -> dict[str, list[str]]:
    """The plans the packaged prices know, by service (Cartesia: pro, scale, startup)."""
    from .pricing.catalog import builtin_entries

    plans: dict[str, set[str]] = {}
    for entry in builtin_entries():
        if entry.plan:
            plans.setdefault(entry.service, set()).add(entry.plan)
    return {service: sorted(names) for service, names in plans.items()}


def _tables(data: Mapping[str, Any], section: str, fail: Any) -> list[Mapping[str, Any]]:
    value = data.get(section, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise fail(section, None, "", f"expected [[{section}]] tables")
    return value


def _fixed_cost(raw: Mapping[str, Any]) -> FixedCost:
    only(raw, {"name", "vendor", "monthly_usd", "since", "until"})
    return FixedCost(
        name=str(required(raw, "name")),
        vendor=str(raw.get("vendor", "")),
        monthly_usd=money(required(raw, "monthly_usd"), "monthly_usd"),
        since=date(raw, "since"),
        until=date(raw, "until") if raw.get("until") else None,
    )


def _plan(raw: Mapping[str, Any]) -> Plan:
    only(raw, {"name", "price_usd", "period", "included_sessions", "tier", "modes", "min_margin_share"})
    period = raw.get("period", "month")
    if period not in ("month", "call", "session"):
        raise EntryError("period", f"expected month, call or session, got {period!r}")
    included = raw.get("included_sessions")
    if included is not None and (isinstance(included, bool) or not isinstance(included, int) or included < 0):
        raise EntryError("included_sessions", f"expected a whole number, got {included!r}")
    name = str(required(raw, "name"))
    share = money(raw["min_margin_share"], "min_margin_share") if "min_margin_share" in raw else None
    if share is not None and share > 1:
        raise EntryError("min_margin_share", f"expected a share of the price between 0 and 1, got {share}")
    return Plan(
        name=name,
        price_usd=money(required(raw, "price_usd"), "price_usd"),
        period=period,
        included_sessions=included,
        tier=str(raw.get("tier") or name),
        modes=tuple(raw.get("modes", ())),
        min_margin_share=share,
    )


def _session_type(raw: Mapping[str, Any]) -> SessionType:
    only(raw, {"mode", "agents", "estimate_usd", "extra_cost_usd", "prefix_tokens"})
    estimate = required(raw, "estimate_usd")
    if not isinstance(estimate, list) or len(estimate) != 2:
        raise EntryError("estimate_usd", 'expected ["low", "high"]')
    low, high = money(estimate[0], "estimate_usd"), money(estimate[1], "estimate_usd")
    if low > high:
        raise EntryError("estimate_usd", "low is above high")
    return SessionType(
        mode=str(required(raw, "mode")),
        agents=raw.get("agents"),
        estimate_usd=(low, high),
        extra_cost_usd=money(raw.get("extra_cost_usd", "0"), "extra_cost_usd"),
        prefix_tokens=_whole(raw, "prefix_tokens"),
    )


def _whole(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise EntryError(key, f"expected a whole number, got {value!r}")
    return value


def _subscription(raw: Mapping[str, Any]) -> Subscription:
    only(raw, {"user_id", "plan", "since", "until"})
    since = date(raw, "since")
    until = date(raw, "until") if raw.get("until") else None
    if until is not None and until < since:
        raise EntryError("until", f"{until} is before since ({since})")
    return Subscription(
        user_id=str(required(raw, "user_id")), plan=str(required(raw, "plan")), since=since, until=until
    )


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")


def _line_of(text: str, section: str, index: int | None, key: str) -> int:
    """The line of `key` in the index-th [[section]] (or of the section), 1-based; 1 if not found."""
    seen = -1
    in_target = False
    section_line = 1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(1).split(".")[0]
            if name == section:
                seen += 1 if line.lstrip().startswith("[[") else 0
                in_target = index is None or seen == index
                if in_target and not key:
                    return number
                if in_target:
                    section_line = number
            else:
                in_target = False
            continue
        if in_target and key:
            match = _KEY.match(line)
            if match and match.group(1) == key:
                return number
            # A one-line `a = 1; b = 2` table (as DESIGN writes it) still names its key.
            if re.search(rf"(^|[;\s{{,]){re.escape(key)}\s*=", line):
                return number
    return section_line
