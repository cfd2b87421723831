"""Budgets that block: limits per user, tier, session or overall, per day or month.

A caller asks before it spends (`ledger.check_budget`, `session.reserve`). Asking
only would let fifty concurrent callers each see the same dollar left, so a
reservation holds the estimate until the real cost arrives: spend + held
reservations + estimate must fit under the limit, checked and held under one
write lock. When the session's events are stored, their cost is taken off its
reservations in the same transaction (settlement); a reservation nobody settles
expires.

```toml
[[budgets]]
scope = "user"        # user | tier | session | global
period = "day"        # day | month (a session budget is per session)
limit_usd = "1.00"
only = "u_17"         # optional: this user/tier only; without it, each user/tier has this limit
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, literal, select, text, update

from . import clock
from .config import Config
from .errors import BudgetExceeded
from .money import from_nanos, to_nanos, usd
from .pricing.entries import EntryError, money
from .store.alerts_schema import budget_reservations, period_totals
from .store.schema import sessions

if TYPE_CHECKING:
    from .store import Store, Written

SCOPES = {"user": "user_id", "tier": "tier", "session": "session_id", "global": ""}
DEFAULT_TTL = dt.timedelta(minutes=15)
# PostgreSQL: reservations are decided one at a time, whichever process makes them.
_PG_LOCK = 7262152


def _now() -> dt.datetime:
    return clock.utcnow()


@dataclass(frozen=True)
class Budget:
    scope: str  # user | tier | session | global
    limit: Decimal
    period: str = "day"  # day | month | session
    only: str | None = None

    @property
    def name(self) -> str:
        who = {"global": "all spend", "session": "each session"}.get(self.scope) or (
            f"{self.scope} {self.only}" if self.only else f"each {self.scope}"
        )
        return f"{who}, ${self.limit:,.2f}" + ("" if self.scope == "session" else f" per {self.period}")


def parse_budget(raw: Mapping[str, Any]) -> Budget:
    allowed = {"scope", "period", "limit_usd", "only"}
    extra = set(raw) - allowed
    if extra:
        raise EntryError(sorted(extra)[0], f"unknown key; expected one of {', '.join(sorted(allowed))}")
    scope = raw.get("scope", "global")
    if scope not in SCOPES:
        raise EntryError("scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    period = "session" if scope == "session" else raw.get("period", "day")
    if period not in ("day", "month", "session"):
        raise EntryError("period", f"expected day or month, got {period!r}")
    if raw.get("limit_usd") is None:
        raise EntryError("limit_usd", "is required")
    only = raw.get("only")
    if only is not None and (scope in ("global", "session") or not isinstance(only, str)):
        raise EntryError("only", "applies to a user or tier budget, as a string")
    return Budget(scope, money(raw["limit_usd"], "limit_usd"), period, only)


def budgets_from_config(config: Config) -> tuple[Budget, ...]:
    from .alerts.rules import config_error

    out = []
    for index, raw in enumerate(config.budgets):
        try:
            out.append(parse_budget(raw))
        except EntryError as exc:
            raise config_error(config, "budgets", index, exc) from None
    return tuple(out)


@dataclass(frozen=True)
class BudgetCheck:
    """The tightest budget that applies (None: no budget applies) and its figures."""

    allowed: bool
    estimate: Decimal
    budget: Budget | None = None
    limit: Decimal | None = None
    spent: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal | None:
        if self.limit is None:
            return None
        return max(self.limit - self.spent - self.reserved, Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "budget": self.budget.name if self.budget else None,
            "limit_usd": usd(self.limit) if self.limit is not None else None,
            "spent_usd": usd(self.spent),
            "reserved_usd": usd(self.reserved),
            "remaining_usd": usd(self.remaining) if self.remaining is not None else None,
            "estimate_usd": usd(self.estimate),
        }

    def exceeded(self) -> BudgetExceeded:
        assert self.budget is not None and self.limit is not None
        return BudgetExceeded(self.budget.name, self.limit, self.spent, self.reserved, self.estimate)


class Reservation:
    """Money held against the budgets until the session's real cost arrives (or it expires)."""

    def __init__(self, budgets: Budgets, reservation_id: int | None, check: BudgetCheck, expires_at: dt.datetime):
        self._budgets = budgets
        self.id = reservation_id
        self.check = check
        self.estimate = check.estimate
        self.expires_at = expires_at

    @property
    def held_usd(self) -> Decimal:
        """What is still held: the estimate less the cost settled against it so far."""
        if self.id is None:
            return Decimal(0)
        return self._budgets.held(self.id)

    def release(self) -> None:
        """Stop holding what is left (the work is done, or did not happen)."""
        if self.id is not None:
            self._budgets.release(self.id)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class Budgets:
    def __init__(self, store: Store, budgets: Sequence[Budget]) -> None:
        self.store = store
        self.budgets = tuple(budgets)

    # -- asking ---------------------------------------------------------------------------------

    def check(
        self,
        estimate: Decimal | str | int = 0,
        *,
        user_id: str | None = None,
        tier: str | None = None,
        session_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> BudgetCheck:
        """May this much more be spent? Never raises for a budget; see `allowed`."""
        amount = _amount(estimate)
        with self.store.engine.connect() as connection:
            return self._check(connection, amount, user_id, tier, session_id, now or _now())

    def reserve(
        self,
        estimate: Decimal | str | int,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        tier: str | None = None,
        ttl: dt.timedelta = DEFAULT_TTL,
    ) -> Reservation:
        """Hold `estimate` against every budget that applies, or raise BudgetExceeded."""
        amount = _amount(estimate)

        def work(connection: Connection) -> Reservation:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))
            now = _now()
            check = self._check(connection, amount, user_id, tier, session_id, now)
            if not check.allowed:
                raise check.exceeded()
            if check.budget is None:
                return Reservation(self, None, check, now + ttl)
            user, level = self._who(connection, user_id, tier, session_id)
            reservation_id = connection.execute(
                budget_reservations.insert()
                .values(session_id=session_id, user_id=user, tier=level, amount=to_nanos(amount),
                        estimate=to_nanos(amount), created_at=now, expires_at=now + ttl)
                .returning(budget_reservations.c.id)
            ).scalar_one()  # fmt: skip
            return Reservation(self, int(reservation_id), check, now + ttl)

        return self.store.transaction(work)

    def held(self, reservation_id: int) -> Decimal:
        with self.store.engine.connect() as connection:
            row = connection.execute(
                select(budget_reservations.c.amount, budget_reservations.c.settled_at).where(
                    budget_reservations.c.id == reservation_id
                )
            ).first()
        if row is None or row.settled_at is not None:
            return Decimal(0)
        return from_nanos(row.amount) or Decimal(0)

    def release(self, reservation_id: int) -> None:
        c = budget_reservations.c
        self.store.transaction(
            lambda connection: connection.execute(
                update(budget_reservations)
                .where(and_(c.id == reservation_id, c.settled_at.is_(None)))
                .values(settled_at=_now())
            )
        )

    # -- settling (a Store.on_write hook) -------------------------------------------------------

    def settle(self, connection: Connection, written: Written) -> None:
        """Take the cost of newly stored events off their session's open reservations, oldest first."""
        if not self.budgets:
            return
        cost: dict[str, int] = {}
        for row in written.inserted:
            if row["session_id"] and row["cost"]:
                cost[row["session_id"]] = cost.get(row["session_id"], 0) + row["cost"]
        if not cost:
            return
        c = budget_reservations.c
        query = (
            select(c.id, c.session_id, c.amount)
            .where(and_(c.session_id.in_(sorted(cost)), c.settled_at.is_(None)))
            .order_by(c.id)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        now = _now()
        for found in connection.execute(query).all():
            take = min(cost[found.session_id], int(found.amount))
            if take <= 0:
                continue
            cost[found.session_id] -= take
            left = int(found.amount) - take
            connection.execute(
                update(budget_reservations)
                .where(c.id == found.id)
                .values(amount=left, settled_at=now if left == 0 else None)
            )

    # -- figures --------------------------------------------------------------------------------

    def _who(
        self, connection: Connection, user_id: str | None, tier: str | None, session_id: str | None
    ) -> tuple[str | None, str | None]:
        """A session's user and tier count against their budgets even when the caller names only the session."""
        if session_id and (user_id is None or tier is None):
            row = connection.execute(
                select(sessions.c.user_id, sessions.c.tier).where(sessions.c.session_id == session_id)
            ).first()
            if row is not None:
                user_id = user_id or row.user_id
                tier = tier or row.tier
        return user_id, tier

    def _check(
        self,
        connection: Connection,
        amount: Decimal,
        user_id: str | None,
        tier: str | None,
        session_id: str | None,
        now: dt.datetime,
    ) -> BudgetCheck:
        user_id, tier = self._who(connection, user_id, tier, session_id)
        given = {"user": user_id, "tier": tier, "session": session_id, "global": ""}
        worst: BudgetCheck | None = None
        for budget in self.budgets:
            subject = given[budget.scope]
            if subject is None or (budget.only is not None and subject != budget.only):
                continue
            spent, reserved = self._figures(connection, budget, subject, now)
            check = BudgetCheck(
                spent + reserved + amount <= budget.limit, amount, budget, budget.limit, spent, reserved
            )
            if worst is None or (not check.allowed, -(check.remaining or 0)) > (
                not worst.allowed,
                -(worst.remaining or 0),
            ):
                worst = check
        return worst or BudgetCheck(True, amount)

    def _figures(
        self, connection: Connection, budget: Budget, subject: str, now: dt.datetime
    ) -> tuple[Decimal, Decimal]:
        """Spent and held for one budget, read in one statement so both come from one snapshot."""
        r = budget_reservations.c
        held = [r.settled_at.is_(None), r.expires_at > now]
        if budget.scope == "session":
            spent: Any = select(sessions.c.cost).where(sessions.c.session_id == subject).scalar_subquery()
            held.append(r.session_id == subject)
        else:
            start = now.date().replace(day=1) if budget.period == "month" else now.date()
            period = start.isoformat()[:7] if budget.period == "month" else start.isoformat()
            dimension = SCOPES[budget.scope]
            p = period_totals.c
            spent = (
                select(p.cost)
                .where(and_(p.period == period, p.dimension == dimension, p.value == (subject if dimension else "")))
                .scalar_subquery()
            )
            # A held reservation is money about to be spent, in whichever period is current when it
            # is: one made at 23:59:50 for a session still running holds against the new day too.
            if dimension:
                held.append(getattr(r, dimension) == subject)
        reserved = select(func.coalesce(func.sum(r.amount), 0)).where(and_(*held)).scalar_subquery()
        row = connection.execute(select(func.coalesce(spent, literal(0)), reserved)).one()
        return from_nanos(int(row[0])) or Decimal(0), from_nanos(int(row[1])) or Decimal(0)


def _amount(value: Decimal | str | int) -> Decimal:
    try:
        amount = money(value, "estimate_usd")
    except EntryError as exc:
        raise ValueError(str(exc)) from None
    return amount
