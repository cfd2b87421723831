"""The types the store's query modules share: the filters a read takes, a total it returns,
and a session's summary. A module of their own, so that every query module can import them
without importing another query module (store.queries is the one import for users).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..money import usd

# What a report can group by, in the user's words → the column it reads.
GROUPS = ("service", "model", "agent", "user", "tier", "mode", "session", "day", "week", "month")
COLUMN = {"user": "user_id", "session": "session_id"}
FILTERS = ("service", "model", "agent", "user_id", "tier", "mode", "session_id")


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None  # inclusive, UTC day
    until: dt.date | None = None  # inclusive, UTC day
    dims: Mapping[str, str] = field(default_factory=dict)  # column → value (FILTERS)
    tags: Mapping[str, str] = field(default_factory=dict)
    # A session's total, inclusive; only session listings use these (a day total has no session cost).
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None
    unpriced: bool = False  # sessions with at least one unpriced event only (session listings too)

    def __post_init__(self) -> None:
        unknown = set(self.dims) - set(FILTERS)
        if unknown:
            raise ValueError(f"cannot filter by {sorted(unknown)[0]!r}; filters are {', '.join(FILTERS)}")

    def by_start_and(self, *names: str) -> bool:
        """True when these filters select sessions by no more than the day they started and the named
        dimensions (each given a value): what a count kept per day and those dimensions can answer."""
        if self.tags or self.min_cost is not None or self.max_cost is not None or self.unpriced:
            return False
        return all(name in names and value for name, value in self.dims.items())


@dataclass(frozen=True)
class Total:
    group: dict[str, str | None]
    events: int
    unpriced: int
    cost_usd: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.group,
            "events": self.events,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
        }


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    user_id: str | None
    tier: str | None
    mode: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    events: int
    unpriced: int
    cost_usd: Decimal
    by_service: dict[str, Decimal]
    by_agent: dict[str, Decimal]

    @property
    def duration_seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times in RFC 3339, money as decimal strings."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "tier": self.tier,
            "mode": self.mode,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "ended_at": self.ended_at.isoformat().replace("+00:00", "Z"),
            "duration_seconds": self.duration_seconds,
            "events": self.events,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
            "by_service": {k: usd(v) for k, v in sorted(self.by_service.items())},
            "by_agent": {k: usd(v) for k, v in sorted(self.by_agent.items())},
        }


__all__ = ["COLUMN", "FILTERS", "GROUPS", "Filters", "SessionSummary", "Total"]
