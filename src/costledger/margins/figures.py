"""The figures a margin needs, read from the store: payments, sessions, usage cost.

Payments are events of service "stripe" whose `amount_usd` is what the customer
paid and whose cost is Stripe's fee. A refund is a stripe event with operation
"refund" and a positive `amount_usd`: negative revenue, and no fee of its own —
Stripe keeps the original payment's fee and charges nothing to refund, so a refund
event's stored cost (if it was priced) is not counted as a fee.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from ..money import from_nanos
from ..store import Filters, Store
from ..store.schema import events, session_costs, sessions

PAYMENT_SERVICE = "stripe"
REFUND = "refund"


@dataclass(frozen=True)
class Payment:
    event_id: str
    ts: dt.datetime  # UTC, aware
    user_id: str | None
    tier: str | None
    amount: Decimal  # what the customer paid (positive, refunds too)
    fee: Decimal | None  # None: the payment could not be priced
    refund: bool

    @property
    def revenue(self) -> Decimal:
        return -self.amount if self.refund else self.amount


@dataclass(frozen=True)
class SessionCost:
    session_id: str
    user_id: str | None
    tier: str | None
    mode: str | None
    started_at: dt.datetime  # UTC, aware
    api_cost: Decimal  # priced events of the session, payments excluded
    unpriced: int


@dataclass(frozen=True)
class UsageCost:
    """Priced usage of one user and tier in one month, payments excluded (rollups)."""

    month: str
    user_id: str | None
    tier: str | None
    cost: Decimal
    events: int
    unpriced: int


def month_of(moment: dt.datetime | dt.date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


@functools.lru_cache(maxsize=1024)
def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of 'YYYY-MM'."""
    try:
        first = dt.date.fromisoformat(month + "-01")
    except ValueError:
        raise ValueError(f"expected a month such as 2026-11, got {month!r}") from None
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def months_between(first: dt.date, last: dt.date) -> list[str]:
    out = []
    cursor = first.replace(day=1)
    while cursor <= last:
        out.append(month_of(cursor))
        cursor = (cursor.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _naive(day: dt.date, end: bool = False) -> dt.datetime:
    """A UTC day as the store's naive timestamp: its start, or the start of the next day."""
    return dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time())


def payments(connection: Connection, since: dt.date, until: dt.date) -> list[Payment]:
    rows = connection.execute(
        select(
            events.c.event_id, events.c.ts, events.c.user_id, events.c.tier, events.c.operation,
            events.c.usage, events.c.cost,
        ).where(
            events.c.service == PAYMENT_SERVICE, events.c.ts >= _naive(since), events.c.ts < _naive(until, end=True)
        ).order_by(events.c.ts, events.c.event_id)
    ).all()  # fmt: skip
    out = []
    for row in rows:
        amount = Decimal(str(json.loads(row.usage).get("amount_usd", 0)))
        refund = (row.operation or "").lower() == REFUND
        out.append(
            Payment(
                event_id=row.event_id,
                ts=row.ts.replace(tzinfo=dt.UTC),
                user_id=row.user_id,
                tier=row.tier,
                amount=amount,
                fee=Decimal(0) if refund else from_nanos(row.cost),
                refund=refund,
            )
        )
    return out


def session_list(connection: Connection, since: dt.date, until: dt.date) -> list[SessionCost]:
    """Sessions started in [since, until] with their API cost (payments taken out)."""
    # Per session of the range, through session_costs' primary key: bounded by the range, not the history.
    api = (
        select(func.coalesce(func.sum(session_costs.c.cost), 0))
        .where(session_costs.c.session_id == sessions.c.session_id, session_costs.c.service != PAYMENT_SERVICE)
        .scalar_subquery()
    )
    rows = connection.execute(
        select(sessions, api.label("api_cost"))
        .where(and_(sessions.c.started_at >= _naive(since), sessions.c.started_at < _naive(until, end=True)))
        .order_by(sessions.c.started_at, sessions.c.session_id)
    ).all()
    return [
        SessionCost(
            session_id=row.session_id,
            user_id=row.user_id,
            tier=row.tier,
            mode=row.mode,
            started_at=row.started_at.replace(tzinfo=dt.UTC),
            api_cost=from_nanos(int(row.api_cost)) or Decimal(0),
            unpriced=int(row.unpriced),
        )
        for row in rows
        if row.events > 0  # a session opened but never used costs nothing and counts as none
    ]


def usage_costs(store: Store, since: dt.date, until: dt.date) -> Iterator[UsageCost]:
    """Per month, user and tier: what usage cost, from the daily rollups (cheap at any size)."""
    for total in store.totals(["month", "user", "tier", "service"], Filters(since=since, until=until)):
        if total.group["service"] == PAYMENT_SERVICE:
            continue
        yield UsageCost(
            month=str(total.group["month"]),
            user_id=total.group["user"],
            tier=total.group["tier"],
            cost=total.cost_usd,
            events=total.events,
            unpriced=total.unpriced,
        )


def data_range(store: Store) -> tuple[dt.date, dt.date] | None:
    """The first and last UTC day holding any event."""
    days = [t.group["day"] for t in store.totals(["day"])]
    if not days:
        return None
    return dt.date.fromisoformat(str(days[0])), dt.date.fromisoformat(str(days[-1]))


__all__ = [
    "PAYMENT_SERVICE",
    "REFUND",
    "Payment",
    "SessionCost",
    "UsageCost",
    "data_range",
    "month_bounds",
    "month_of",
    "months_between",
    "payments",
    "session_list",
    "usage_costs",
]
