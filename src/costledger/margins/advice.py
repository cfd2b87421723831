"""Advice with figures: what to change, what it is worth per month, and what that assumes.

Four kinds: a cheaper model for an agent (a what-if over the last 30 days), prompt
caching of a repeated prefix (from `session_types.prefix_tokens` or the prefix the
agent's cached calls show), heavy users on plans whose margin at limit is thin, and
unpriced usage to fix. Every figure is priced by the catalog; none is guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..config import Config
from ..errors import UnknownPrice
from ..money import quantize, usd
from ..pricing import Catalog
from ..store import Filters, Store
from .arithmetic import per_month, percentile
from .plans import MarginReport, margin_report
from .whatif import PastEvent, Swap, default_period, past_events, reprice_matched

# A cheaper model of the same provider for each expensive one: where a swap is worth pricing.
CHEAPER: Mapping[tuple[str, str], str] = {
    ("anthropic", "claude-opus-4-1"): "claude-sonnet-4-5",
    ("anthropic", "claude-opus-4-0"): "claude-sonnet-4-0",
    ("anthropic", "claude-opus-4-5"): "claude-sonnet-4-5",
    ("anthropic", "claude-sonnet-4-5"): "claude-haiku-4-5",
    ("anthropic", "claude-sonnet-4-0"): "claude-haiku-4-5",
    ("anthropic", "claude-3-7-sonnet"): "claude-haiku-4-5",
    ("anthropic", "claude-3-5-sonnet"): "claude-haiku-4-5",
    ("openai", "gpt-4o"): "gpt-4o-mini",
    ("openai", "gpt-4.1"): "gpt-4.1-mini",
    ("openai", "gpt-5"): "gpt-5-mini",
}
LLM_SERVICES = ("anthropic", "openai", "google")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Advice:
    kind: str  # model_swap | prompt_caching | heavy_users | unpriced
    title: str
    usd_per_month: Decimal | None  # None: cannot be priced (unpriced usage)
    assumptions: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "usd_per_month": None if self.usd_per_month is None else usd(self.usd_per_month),
            "assumptions": list(self.assumptions),
            "details": dict(self.details),
        }


def model_swaps(past: Sequence[PastEvent], catalog: Catalog, days: int, limit: int = 3) -> list[Advice]:
    """Per agent on an expensive model: what its cheaper sibling would have cost."""
    groups: dict[tuple[str, str, str], list[PastEvent]] = defaultdict(list)
    # What each name resolves to on each day, looked up once: a month holds hundreds of thousands of calls.
    swappable: dict[tuple[str, str | None, dt.date], tuple[str, str] | None] = {}
    for event in past:
        day = (event.service, event.model, event.ts.date())
        if day not in swappable:
            try:
                entry = catalog.resolve(event.service, event.model, event.ts)
            except UnknownPrice:
                swappable[day] = None
            else:
                # The same service: an alias to another provider's model is not a swap within one.
                key = (entry.service, entry.model)
                swappable[day] = key if key in CHEAPER and entry.service == event.service else None
        named = swappable[day]
        if named is not None:
            groups[(*named, event.agent or "")].append(event)
    out = []
    for (service, model, agent), events in groups.items():
        swap = Swap(service, model, service, CHEAPER[(service, model)])
        # Grouped by the entry that priced them: each event is of swap.from already.
        result = reprice_matched(events, swap, catalog)
        if result.savings <= 0:
            continue
        who = f"agent {agent}" if agent else "calls without an agent"
        out.append(
            Advice(
                kind="model_swap",
                title=f"{who}: {model} → {swap.to_model}",
                usd_per_month=per_month(result.savings, days),
                assumptions=(
                    f"the same token counts on {swap.to_model} (same prompts, same output length)",
                    f"{swap.to_model} answers well enough for {who}: check quality before switching",
                    f"the last {days} days' {result.matched:,} calls, scaled to 30 days",
                ),
                details={
                    "swap": f"{service}:{model}={service}:{swap.to_model}",
                    "agent": agent or None,
                    "events": result.matched,
                    "old_cost_usd": usd(result.old_cost),
                    "new_cost_usd": usd(result.new_cost),
                },
            )
        )
    out.sort(key=lambda a: a.usd_per_month or 0, reverse=True)
    return out[:limit]


def _cached(event: PastEvent) -> bool:
    return bool(event.usage.get("cache_read_tokens") or event.usage.get("cache_write_tokens"))


def observed_prefixes(past: Iterable[PastEvent]) -> dict[tuple[str, str | None, str], int]:
    """(service, model, agent) → the median tokens its cached calls read from the cache."""
    # Token counts as read (ints), not Decimals: a month's LLM calls are hundreds of thousands.
    reads: dict[tuple[str, str | None, str], list[int | Decimal]] = defaultdict(list)
    for event in past:
        read = event.usage.get("cache_read_tokens")
        if read:
            reads[(event.service, event.model, event.agent or "")].append(read)
    return {key: int(percentile(values, 50)) for key, values in reads.items()}


def prompt_caching(
    past: Sequence[PastEvent], catalog: Catalog, prefixes_by_mode: Mapping[str, int], days: int
) -> list[Advice]:
    """The saving if uncached calls cached their repeated prefix: the first call of a session
    (per agent and model) writes it, later calls read it, at the model's own cache prices."""
    observed = observed_prefixes(past)
    saving: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    calls: dict[tuple[str, str], int] = defaultdict(int)
    written: set[tuple[str | None, str, str | None, str]] = set()
    for event in past:
        if event.cost is None or event.cost_source == "reported" or _cached(event):
            continue
        if event.mode and event.mode in prefixes_by_mode:
            prefix, source = prefixes_by_mode[event.mode], f"mode {event.mode} (prefix_tokens in costledger.toml)"
        elif (event.service, event.model, event.agent or "") in observed:
            prefix = observed[(event.service, event.model, event.agent or "")]
            source = f"agent {event.agent or '(none)'} on {event.model} (observed cache reads)"
        else:
            continue
        total_input = int(event.usage.get("input_tokens") or 0)
        if not prefix or total_input < prefix:
            continue
        key = (event.session_id or event.event_id, event.agent or "", event.model, event.service)
        part = "cache_read_tokens" if key in written else "cache_write_tokens"
        written.add(key)
        try:
            new = catalog.price(
                event.service, event.model, {**event.usage, part: prefix}, event.ts, event.service_tier
            ).total
        except UnknownPrice:
            continue
        bucket = saving[(source, event.model or "")]
        bucket[0] += event.cost
        bucket[1] += quantize(new)
        calls[(source, event.model or "")] += 1
    out = []
    for (source, model), (old, new) in saving.items():
        if old - new <= 0:
            continue
        out.append(
            Advice(
                kind="prompt_caching",
                title=f"cache the repeated prompt prefix of {source}",
                usd_per_month=per_month(old - new, days),
                assumptions=(
                    "the prefix is identical across a session's calls and is cached once per session, agent and"
                    " model (one cache write, then cache reads) at the model's cache prices",
                    "the cache lives long enough between a session's calls (Anthropic: 5 minutes by default)",
                    f"the last {days} days' {calls[(source, model)]:,} uncached calls, scaled to 30 days",
                ),
                details={
                    "model": model,
                    "calls": calls[(source, model)],
                    "old_cost_usd": usd(old),
                    "new_cost_usd": usd(new),
                },
            )
        )
    out.sort(key=lambda a: a.usd_per_month or 0, reverse=True)
    return out


def heavy_users(report: MarginReport, limit: int = 5) -> list[Advice]:
    """Users losing money in the latest month on plans whose margin at limit is negative or thin."""
    if not report.months:
        return []
    month = report.months[-1]
    thin = {row.plan.name: row.flag for row in report.at_limit if row.flag in ("negative", "thin")}
    out = []
    for plan, state in thin.items():
        losers = sorted(
            ((user, m.margin) for (mo, p, user), m in report.users.items() if mo == month and p == plan and user),
            key=lambda pair: pair[1],
        )
        losers = [(user, margin) for user, margin in losers if margin < 0][:limit]
        if not losers:
            continue
        loss = -sum((margin for _, margin in losers), start=Decimal(0)).quantize(CENT, rounding=ROUND_HALF_EVEN)
        out.append(
            Advice(
                kind="heavy_users",
                title=f"{len(losers)} heavy user(s) on plan {plan} (margin at limit {state})",
                usd_per_month=loss,
                assumptions=(
                    f"they keep using the plan as in {month}",
                    "moving them to a larger plan or capping their use recovers their loss",
                ),
                details={
                    "plan": plan,
                    "month": month,
                    "users": [{"user_id": u, "margin_usd": usd(m)} for u, m in losers],
                },
            )
        )
    return out


def unpriced_usage(store: Store, since: dt.date, until: dt.date) -> list[Advice]:
    out = []
    for total in store.totals(["service", "model"], Filters(since=since, until=until)):
        if not total.unpriced:
            continue
        name = f"{total.group['service']}:{total.group['model'] or '(no model)'}"
        out.append(
            Advice(
                kind="unpriced",
                title=f"{total.unpriced} unpriced event(s) of {name}: add a [[prices]] entry or an alias",
                usd_per_month=None,
                assumptions=(
                    "their cost is unknown, so every total and margin above is too low by it",
                    "`costledger reprice` prices them once the price is configured",
                ),
                details={"service": total.group["service"], "model": total.group["model"], "events": total.unpriced},
            )
        )
    return out


def advice(
    store: Store,
    config: Config,
    catalog: Catalog,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    report: MarginReport | None = None,
) -> list[Advice]:
    """Every piece of advice for the period (default: the last 30 days of data), largest saving first."""
    since, until = default_period(store, since, until)
    days = (until - since).days + 1
    past = past_events(store, LLM_SERVICES, since, until, users=False)
    prefixes = {st.mode: st.prefix_tokens for st in config.session_types if st.prefix_tokens}
    report = report or margin_report(store, config, catalog, since=since, until=until)
    items = [
        *model_swaps(past, catalog, days),
        *prompt_caching(past, catalog, prefixes, days),
        *heavy_users(report),
    ]
    items.sort(key=lambda a: a.usd_per_month or 0, reverse=True)
    return [*items, *unpriced_usage(store, since, until)]


__all__ = ["CHEAPER", "Advice", "advice", "heavy_users", "model_swaps", "observed_prefixes", "prompt_caching"]
