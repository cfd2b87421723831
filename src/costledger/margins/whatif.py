"""What if these agents had used another model? Reprice a past period with the real token counts.

`repriced` is pure: the events in, the catalog, the swap; it prices each matching
event's recorded usage with the other model at the event's own time and service tier. Events whose
cost was reported by the caller (not priced by us) or that were never priced are
counted apart, not guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import literal_column, select

from .. import clock
from ..config import Config
from ..dates import FIRST_DAY
from ..errors import UnknownPrice
from ..money import from_nanos, quantize, usd
from ..pricing import Catalog
from ..store import Store
from ..store.raw import fetch_raw, utc_time
from ..store.schema import events
from ..store.usage_json import usages_from_json
from .arithmetic import per_month
from .figures import data_range, month_of
from .plans import PlanBook, margin_report


@dataclass(frozen=True)
class Swap:
    from_service: str
    from_model: str
    to_service: str
    to_model: str

    @classmethod
    def parse(cls, text: str) -> Swap:
        """'SERVICE:MODEL=SERVICE:MODEL', e.g. anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5."""
        left, sep, right = text.partition("=")
        parts = [side.partition(":") for side in (left, right)]
        if not sep or any(not p[1] or not p[0].strip() or not p[2].strip() for p in parts):
            raise ValueError(f"expected SERVICE:MODEL=SERVICE:MODEL, got {text!r}")
        (fs, _, fm), (ts, _, tm) = parts
        return cls(fs.strip().lower(), fm.strip(), ts.strip().lower(), tm.strip())

    def __str__(self) -> str:
        return f"{self.from_service}:{self.from_model} → {self.to_service}:{self.to_model}"


class PastEvent(NamedTuple):
    """A past event as a what-if reprices it. A tuple: a period's events are made by the ten thousand."""

    event_id: str
    ts: dt.datetime  # aware UTC
    service: str
    model: str | None
    usage: Mapping[str, int | Decimal]
    cost: Decimal | None
    cost_source: str | None
    user_id: str | None = None
    tier: str | None = None
    agent: str | None = None
    mode: str | None = None
    session_id: str | None = None
    # The provider's service tier it ran at (flex, priority, batch…; None: standard): a what-if prices
    # the other model at the same tier, as its stored cost was.
    service_tier: str | None = None


@dataclass
class Repricing:
    """The outcome of one swap over a set of events."""

    matched: int = 0
    old_cost: Decimal = Decimal(0)
    new_cost: Decimal = Decimal(0)
    skipped_reported: int = 0
    skipped_unpriced: int = 0
    not_priceable: int = 0  # the new model has no price for a meter the event used, or for its service tier
    by_event: list[tuple[PastEvent, Decimal, Decimal]] = field(default_factory=list)

    @property
    def savings(self) -> Decimal:
        return self.old_cost - self.new_cost


def _resolved(catalog: Catalog, service: str, model: str | None, at: dt.datetime) -> tuple[str, str] | None:
    try:
        entry = catalog.resolve(service, model, at)
    except UnknownPrice:
        return None
    return entry.service, entry.model


def matches(catalog: Catalog, event: PastEvent, service: str, model: str) -> bool:
    """Is the event's model `service:model`, under any spelling the catalog resolves alike?"""
    if event.service != service:
        return False
    if (event.model or "").lower() == model.lower():
        return True
    mine = _resolved(catalog, event.service, event.model, event.ts)
    return mine is not None and mine == _resolved(catalog, service, model, event.ts)


def repriced(
    past: Iterable[PastEvent],
    swap: Swap,
    catalog: Catalog,
    *,
    agents: Sequence[str] = (),
    modes: Sequence[str] = (),
    tiers: Sequence[str] = (),
) -> Repricing:
    """Reprice the events of `swap.from` (for the chosen agents, modes, tiers) with `swap.to`."""
    chosen = (
        event
        for event in past
        if not (agents and event.agent not in agents)
        and not (modes and event.mode not in modes)
        and not (tiers and event.tier not in tiers)
        and matches(catalog, event, swap.from_service, swap.from_model)
    )
    return reprice_matched(chosen, swap, catalog)


def reprice_matched(past: Iterable[PastEvent], swap: Swap, catalog: Catalog) -> Repricing:
    """`repriced` for events already known to be of `swap.from` (advice groups them by their entry)."""
    out = Repricing()
    price = catalog.price
    for event in past:
        if event.cost_source == "reported":
            out.skipped_reported += 1
            continue
        if event.cost is None:
            out.skipped_unpriced += 1
            continue
        try:
            new = quantize(price(swap.to_service, swap.to_model, event.usage, event.ts, event.service_tier).total)
        except UnknownPrice:
            out.not_priceable += 1
            continue
        out.matched += 1
        out.old_cost += event.cost
        out.new_cost += new
        out.by_event.append((event, event.cost, new))
    return out


# The columns a PastEvent needs, in its field order: reading only these is half the cost of the query.
_PAST = tuple(
    events.c[name]
    for name in ("event_id", "ts", "service", "model", "usage", "cost", "cost_source", "user_id", "tier", "agent",
                 "mode", "session_id", "service_tier")
)  # fmt: skip


_BY_TIME_AND_ID = itemgetter(1, 0)


def past_events(
    store: Store,
    service: str | Sequence[str],
    since: dt.date,
    until: dt.date,
    *,
    agents: Sequence[str] = (),
    modes: Sequence[str] = (),
    tiers: Sequence[str] = (),
    users: bool = True,
) -> list[PastEvent]:
    """The events of a service (or of several) in the period, by time; only those of the given agents,
    modes and tiers when any are given (as `repriced` chooses them: an event without one is not chosen).
    users=False leaves user_id and tier out (None): the advice needs neither, and they were a seventh
    of reading a month of LLM calls."""
    start = dt.datetime.combine(since, dt.time())
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
    services = [service] if isinstance(service, str) else list(service)
    chosen = [events.c[name].in_(list(values)) for name, values in (("agent", agents), ("mode", modes),
                                                                    ("tier", tiers)) if values]  # fmt: skip
    query = (
        select(*(_PAST if users else (literal_column("NULL") if c.name in ("user_id", "tier") else c for c in _PAST)))
        .where(events.c.service.in_(services), events.c.ts >= start, events.c.ts < end, *chosen)
        .order_by(events.c.ts)
    )
    # A period holds hundreds of thousands of events: read as the driver's tuples (raw.py), a SQLite
    # time as its text, parsed here in C (SQLAlchemy's own processing of the rows took longer than the read).
    with store.engine.connect() as connection:
        rows = fetch_raw(connection, query)
    # Events of the same instant by their id, sorted here: the rows come in the time index's order, which
    # this sort only walks, where SQLite sorted each instant's rows again (the 316k LLM calls of 30 days at
    # 1M events: 1.41 against 1.33 s CPU, read and ordered). Python's order is the same on every backend
    # (PostgreSQL's ORDER BY follows the database's collation). A SQLite time is text of one fixed width.
    rows.sort(key=_BY_TIME_AND_ID)
    usages = usages_from_json(row[4] for row in rows)
    return [
        # _make: the tuple made in C (the class's own __new__ is Python, with its defaults).
        PastEvent._make((event_id, utc_time(ts), kind, model, usage, from_nanos(cost), source, *who))
        for (event_id, ts, kind, model, _, cost, source, *who), usage in zip(rows, usages, strict=True)
    ]


def default_period(
    store: Store, since: dt.date | None, until: dt.date | None, days: int = 30
) -> tuple[dt.date, dt.date]:
    """The given period, else the last `days` days that hold data."""
    if until is None:
        found = data_range(store)
        until = found[1] if found else clock.today()
    if since is None:
        since = max(until - dt.timedelta(days=days - 1), FIRST_DAY)  # no month before the window
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    return since, until


@dataclass
class WhatIfReport:
    swap: Swap
    since: dt.date
    until: dt.date
    repricing: Repricing
    plans: list[dict[str, Any]]
    filters: dict[str, list[str]]

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def as_dict(self) -> dict[str, Any]:
        r = self.repricing
        return {
            "swap": {"from": f"{self.swap.from_service}:{self.swap.from_model}",
                     "to": f"{self.swap.to_service}:{self.swap.to_model}"},
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "filters": self.filters,
            "events": r.matched,
            "old_cost_usd": usd(r.old_cost),
            "new_cost_usd": usd(r.new_cost),
            "savings_usd": usd(r.savings),
            "savings_per_month_usd": usd(per_month(r.savings, self.days)),
            "skipped_reported": r.skipped_reported,
            "skipped_unpriced": r.skipped_unpriced,
            "not_priceable": r.not_priceable,
            "plans": self.plans,
            "assumptions": [
                "the same token counts with the new model (same prompts, same output length)",
                "each event priced at its own time and service tier with the catalog in force then",
                f"per month: the {self.days}-day saving scaled to 30 days",
                "margin: the margin report over the same days (fixed costs of each month touched count in full)",
            ],
        }  # fmt: skip


def what_if(
    store: Store,
    config: Config,
    catalog: Catalog,
    swap: Swap,
    *,
    agents: Sequence[str] = (),
    modes: Sequence[str] = (),
    tiers: Sequence[str] = (),
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> WhatIfReport:
    """Savings of `swap` over a past period, per plan, and each plan's margin before and after."""
    since, until = default_period(store, since, until)
    past = past_events(store, swap.from_service, since, until, agents=agents, modes=modes, tiers=tiers)
    result = repriced(past, swap, catalog, agents=agents, modes=modes, tiers=tiers)
    book = PlanBook(config.plans, config.subscriptions)
    savings: dict[str, Decimal] = defaultdict(Decimal)
    for event, old, new in result.by_event:
        savings[book.plan_of(event.user_id, month_of(event.ts), event.tier)] += old - new
    margins = margin_report(store, config, catalog, since=since, until=until)
    before: dict[str, Decimal] = defaultdict(Decimal)
    for cell in margins.plans:
        before[cell.plan] += cell.margin.margin
    plans = [
        {
            "plan": plan or None,
            "savings_usd": usd(savings.get(plan, Decimal(0))),
            "margin_usd": usd(before[plan]),
            "new_margin_usd": usd(before[plan] + savings.get(plan, Decimal(0))),
        }
        for plan in sorted(set(before) | set(savings), key=lambda p: (p == "", p))
    ]
    filters = {"agent": list(agents), "mode": list(modes), "tier": list(tiers)}
    return WhatIfReport(swap, since, until, result, plans, filters)


__all__ = [
    "PastEvent", "Repricing", "Swap", "WhatIfReport", "matches", "past_events", "reprice_matched", "repriced",
    "what_if",
]  # fmt: skip
