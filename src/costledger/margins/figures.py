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

import calendar
import datetime as dt
import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, case, func, literal_column, select

from ..dates import FIRST_DAY, LAST_DAY
from ..money import from_nanos, to_nanos
from ..store import Filters, Store
from ..store.alerts_schema import period_totals
from ..store.period_reads import ledger_days, pieces
from ..store.range_sessions import range_sessions
from ..store.raw import fetch_raw, utc_time
from ..store.schema import PAYMENTS, events, period_pairs
from ..store.sums import DOLLAR, from_halves
from ..store.usage_json import usages_from_json
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
    stored_cost: int | None = None  # the event's cost as stored (nano-USD; None: unpriced): what the rollups count

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
    """First and last day of 'YYYY-MM' (any stored month: a month asked for is checked against the window where
    it comes in, `report_for`)."""
    try:
        first = dt.date.fromisoformat(month + "-01")
    except ValueError:
        raise ValueError(f"expected a month such as 2026-11, got {month!r}") from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


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
    # Through the partial index on payments' times (schema.PAYMENTS, migration 0009): a row per payment,
    # read as the driver's tuples (a SQLite time as its text) with every usage parsed at once.
    rows = fetch_raw(connection, select(
        events.c.event_id, events.c.ts, events.c.user_id, events.c.tier, events.c.operation,
        events.c.usage, events.c.cost, events.c.cost_source, events.c.meta,
    ).where(
        events.c.service == PAYMENTS, events.c.ts >= _naive(since), events.c.ts < _naive(until, end=True)
    ).order_by(events.c.ts, events.c.event_id))  # fmt: skip
    out = []
    usages = usages_from_json(row[5] for row in rows)
    for (event_id, ts, user_id, tier, operation, _, cost, cost_source, meta), usage in zip(rows, usages, strict=True):
        kind = (operation or "").lower()
        kind = kind if kind in (REFUND, DISPUTE, DISPUTE_REVERSAL) else "payment"
        stripe = _stripe_facts(meta)
        currency = str(stripe.get("currency") or "usd").lower()
        out.append(
            Payment(
                event_id=event_id,
                ts=utc_time(ts),
                user_id=user_id,
                tier=tier,
                amount=Decimal(usage.get("amount_usd", 0)),
                fee=Decimal(0) if kind == REFUND else from_nanos(cost),
                refund=kind == REFUND,
                kind=kind,
                fee_estimated=cost is not None and cost_source != "reported",
                currency=currency,
                amount_original=_decimal(stripe.get("amount")) if currency != "usd" else None,
                fee_returned=_decimal(stripe.get("fee_returned_usd")) or Decimal(0),
                stored_cost=None if cost is None else int(cost),
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


@dataclass
class SessionFigures:
    """The sessions with events started in a range, counted per (month, user, tier, mode): how many, and
    the API cost (payments taken out) of each one without unpriced events, in nano-USD, unsorted."""

    counts: dict[SessionKey, int]
    priced: dict[SessionKey, list[int]]

    def sessions(self) -> int:
        return sum(self.counts.values())


SessionKey = tuple[str, str | None, str | None, str | None]  # month, user_id, tier, mode


def session_figures(connection: Connection, since: dt.date, until: dt.date) -> SessionFigures:
    """The sessions with events started in [since, until], per (month, user, tier, mode).

    One narrow pass over the range's sessions (their stored counts and cost), the payments that
    belong to any of them taken out of their cost: those are the payment events with a session at or
    after `since` (a session's events are never before its start), found through the payments'
    index. It grows with the sessions of the range, not the history: an exact nearest-rank
    percentile of session cost needs every priced session's cost.
    """
    start = _naive(since)
    # The payments since `since`, through their index (a condition on session_id would have SQLite walk
    # the index of every event with a session instead); those of a session taken out of its cost below.
    paid: dict[str, int] = {}
    in_sessions = select(events.c.session_id, events.c.cost).where(events.c.service == PAYMENTS, events.c.ts >= start)
    for session_id, cost in connection.execute(in_sessions):
        if session_id is not None and cost is not None:
            paid[session_id] = paid.get(session_id, 0) + int(cost)
    # The range's sessions as the page that shows this read them already, if it did (store/range_sessions.py);
    # the month is the first seven characters of the start day.
    rows = range_sessions(connection, Filters(since=since, until=until))
    counts: dict[SessionKey, int] = {}
    priced: dict[SessionKey, list[int]] = {}
    # One pass, each session's key made once: counted, and its cost listed when it is priced.
    for session_id, day, user, tier, mode, unpriced, cost in rows:
        key = (day[:7], user, tier, mode)
        counts[key] = counts.get(key, 0) + 1
        if not unpriced:
            if paid:
                cost -= paid.get(session_id, 0)
            found = priced.get(key)
            if found is None:
                priced[key] = [cost]
            else:
                found.append(cost)
    return SessionFigures(counts, priced)


def usage_costs(
    store: Store, since: dt.date, until: dt.date, paid: Sequence[Payment] | None = None
) -> Iterator[UsageCost]:
    """Per month, user and tier: what usage cost, payments excluded: the per-period totals of user × tier
    (store/period_reads.py: the range's months and leftover days) less the range's payment events,
    which `paid` (payments() of the same range) lists with their stored cost."""
    if paid is None:
        with store.engine.connect() as connection:
            paid = payments(connection, since, until)
    less: dict[tuple[str, str | None, str | None], list[int]] = {}
    for p in paid:
        found = less.setdefault((month_of(p.ts), p.user_id or None, p.tier or None), [0, 0, 0])
        found[0] += 1
        if p.stored_cost is None:
            found[1] += 1
        else:
            found[2] += p.stored_cost
    for month, user, tier, count, unpriced, cost in _user_tier_months(store, since, until):
        taken = less.get((month, user, tier))
        if taken is not None:
            count, unpriced, cost = count - taken[0], unpriced - taken[1], cost - taken[2]
        if count <= 0:  # nothing but payments
            continue
        yield UsageCost(month=month, user_id=user, tier=tier, cost=from_nanos(cost) or Decimal(0), events=count,
                        unpriced=unpriced)  # fmt: skip


_USER_TIER = "user_id,tier"  # period_groups.pair_name(("user_id", "tier"))
_MAX_PERIODS = 400


def _user_tier_months(store: Store, since: dt.date, until: dt.date) -> Iterator[tuple[str, str | None, str | None,
                                                                                   int, int, int]]:  # fmt: skip
    """(month, user, tier, events, unpriced, nano-USD) of every event in [since, until]: the user × tier pair
    totals of the range's months and leftover days (period_reads.pieces), signed and summed per month in
    the database, one row per month, user and tier."""
    with store.engine.connect() as connection:
        span = ledger_days(connection)
        if span is None:
            return
        parts = pieces(since, until, *span, daily=False)
        if len(parts) > _MAX_PERIODS:  # events decades apart: the general read
            found = store.totals(["month", "user", "tier"], Filters(since=since, until=until))
            for t in found:
                yield (
                    str(t.group["month"]),
                    t.group["user"],
                    t.group["tier"],
                    t.events,
                    t.unpriced,
                    to_nanos(t.cost_usd),
                )
            return
        c = period_pairs.c
        less = [period for period, sign in parts if sign < 0]

        def signed(column: Any) -> Any:
            return column if not less else case((c.period.in_(less), -column), else_=column)

        month = func.substr(c.period, literal_column("1"), literal_column("7"))
        sums = [func.sum(signed(c.events)), func.sum(signed(c.unpriced)), func.sum(signed(c.cost_high)),
                func.sum(signed(c.cost // DOLLAR)), func.sum(signed(c.cost % DOLLAR))]  # fmt: skip
        query = (
            select(month, c.a, c.b, *sums)
            .where(c.pair == _USER_TIER, c.period.in_([period for period, _ in parts]))
            .group_by(month, c.a, c.b)
        )
        for on, user, tier, events, unpriced, high, dollars, nanos in connection.execute(query).all():
            if events:
                cost = from_halves(dollars, nanos, high)
                yield on, user or None, tier or None, int(events), int(unpriced), cost


def data_range(store: Store) -> tuple[dt.date, dt.date] | None:
    """The first and last UTC day holding any event, inside the window of costledger.dates (a ledger written
    before the window existed may hold days outside it: they are no month of anyone's margins).

    From the per-day period totals: a few key lookups (store/period_reads.ledger_days)."""
    with store.engine.connect() as connection:
        span = ledger_days(connection)
        if span is None:
            return None
        if span[0] >= FIRST_DAY and span[1] <= LAST_DAY:
            return span
        # Days outside the window: the first and last day row inside it.
        t = period_totals.c
        inside = (t.dimension == "", t.value == "", func.length(t.period) == 10, t.events > 0,
                  t.period >= FIRST_DAY.isoformat(), t.period <= LAST_DAY.isoformat())  # fmt: skip
        first, last = connection.execute(select(func.min(t.period), func.max(t.period)).where(*inside)).one()
    if first is None or last is None:
        return None
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


__all__ = [
    "DISPUTE",
    "DISPUTE_REVERSAL",
    "PAYMENT_SERVICE",
    "REFUND",
    "Payment",
    "SessionFigures",
    "SessionKey",
    "UsageCost",
    "data_range",
    "month_bounds",
    "month_of",
    "months_between",
    "payments",
    "session_figures",
    "usage_costs",
]
