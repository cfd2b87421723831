"""The figures a margin needs, read from the store: payments, sessions, usage cost.

Payments are events of service "stripe" whose `amount_usd` is what the customer paid
and whose cost is Stripe's fee: Stripe's own figure when the event reported it (a
webhook with its balance transaction, `cost_usd`), else the catalog's estimate. By
`operation`:
- "refund": a positive `amount_usd` given back: negative revenue, and no fee of its own —
  Stripe keeps the original payment's fee and charges nothing to refund, so a refund
  event's stored cost (if it was priced) is not counted as a fee;
- "dispute": money the cardholder's bank took back, its cost the dispute fee;
- "dispute_reversal": money a won dispute returned (and a dispute fee Stripe gave back,
  `metadata.stripe.fee_returned_usd`);
- anything else: a payment.
A webhook's payment also keeps the currency the customer paid in (`metadata.stripe`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, and_, func, select

from ..money import from_nanos
from ..store import Filters, Store
from ..store.schema import events, session_costs, sessions
from .arithmetic import Margin

PAYMENT_SERVICE = "stripe"
REFUND = "refund"
DISPUTE = "dispute"
DISPUTE_REVERSAL = "dispute_reversal"


@dataclass(frozen=True)
class Payment:
    event_id: str
    ts: dt.datetime  # UTC, aware
    user_id: str | None
    tier: str | None
    amount: Decimal  # USD moved (positive, refunds and disputes too)
    fee: Decimal | None  # None: the payment could not be priced
    refund: bool
    kind: str = "payment"  # payment | refund | dispute | dispute_reversal
    fee_estimated: bool = False  # the fee is the catalog's estimate, not Stripe's figure
    currency: str = "usd"  # what the customer paid in
    amount_original: Decimal | None = None  # in `currency` (None: the same as `amount`)
    fee_returned: Decimal = Decimal(0)  # a dispute fee Stripe gave back

    @property
    def revenue(self) -> Decimal:
        """Its effect on revenue, in USD."""
        return -self.amount if self.kind in (REFUND, DISPUTE) else self.amount

    @property
    def original(self) -> Decimal:
        """Its effect on revenue in the customer's currency."""
        amount = self.amount if self.amount_original is None else self.amount_original
        return -amount if self.kind in (REFUND, DISPUTE) else amount

    def margin(self) -> Margin:
        fee = self.fee or Decimal(0)
        estimated = fee if self.fee_estimated else Decimal(0)
        if self.kind == REFUND:
            return Margin(refunds=self.amount)
        if self.kind == DISPUTE:
            return Margin(disputes=self.amount, fees=fee, fees_estimated=estimated)
        if self.kind == DISPUTE_REVERSAL:
            return Margin(disputes=-self.amount, fees=-self.fee_returned)
        return Margin(revenue=self.amount, fees=fee, fees_estimated=estimated)


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
            events.c.usage, events.c.cost, events.c.cost_source, events.c.meta,
        ).where(
            events.c.service == PAYMENT_SERVICE, events.c.ts >= _naive(since), events.c.ts < _naive(until, end=True)
        ).order_by(events.c.ts, events.c.event_id)
    ).all()  # fmt: skip
    out = []
    for row in rows:
        amount = Decimal(str(json.loads(row.usage).get("amount_usd", 0)))
        kind = (row.operation or "").lower()
        kind = kind if kind in (REFUND, DISPUTE, DISPUTE_REVERSAL) else "payment"
        stripe = _stripe_facts(row.meta)
        currency = str(stripe.get("currency") or "usd").lower()
        out.append(
            Payment(
                event_id=row.event_id,
                ts=row.ts.replace(tzinfo=dt.UTC),
                user_id=row.user_id,
                tier=row.tier,
                amount=amount,
                fee=Decimal(0) if kind == REFUND else from_nanos(row.cost),
                refund=kind == REFUND,
                kind=kind,
                fee_estimated=row.cost is not None and row.cost_source != "reported",
                currency=currency,
                amount_original=_decimal(stripe.get("amount")) if currency != "usd" else None,
                fee_returned=_decimal(stripe.get("fee_returned_usd")) or Decimal(0),
            )
        )
    return out


def _stripe_facts(meta: str | None) -> dict[str, object]:
    try:
        found = json.loads(meta or "{}").get("stripe")
    except (ValueError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def session_list(connection: Connection, since: dt.date, until: dt.date) -> list[SessionCost]:
    """Sessions started in [since, until] with their API cost (payments taken out)."""
    api = (
        select(
            session_costs.c.session_id,
            func.sum(session_costs.c.cost).label("cost"),
        )
        .where(session_costs.c.service != PAYMENT_SERVICE)
        .group_by(session_costs.c.session_id)
        .subquery()
    )
    rows = connection.execute(
        select(sessions, func.coalesce(api.c.cost, 0).label("api_cost"))
        .select_from(sessions.outerjoin(api, api.c.session_id == sessions.c.session_id))
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
    "DISPUTE",
    "DISPUTE_REVERSAL",
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
