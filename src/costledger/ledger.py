"""The recording API: Ledger (embedded or PostgreSQL) and its Session."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from . import clock
from .config import Config, load_config
from .errors import InvalidEvent, UnknownPrice
from .money import MAX_EVENT_USD, from_nanos, to_nanos, too_dear, usd
from .pricing import Catalog
from .pricing.catalog import catalog_from_config
from .store import Filters, SessionSummary, Store, Total, queries
from .store.location import locate

if TYPE_CHECKING:
    from .budgets import BudgetCheck, Reservation
    from .events import UsageEvent

    EventLike = UsageEvent | Mapping[str, Any]


@dataclass(frozen=True)
class Recorded:
    """What a record call did: new events stored, duplicates skipped, new events left unpriced."""

    accepted: int
    duplicates: int
    unpriced: int
    cost_usd: Decimal  # of the accepted events that were priced

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unpriced": self.unpriced,
            "cost_usd": usd(self.cost_usd),
        }

    def __add__(self, other: Recorded) -> Recorded:
        return Recorded(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.unpriced + other.unpriced,
            self.cost_usd + other.cost_usd,
        )


MAX_EVENT_NANOS = to_nanos(MAX_EVENT_USD)
_SESSION_FIELDS = ("session_id", "user_id", "tier", "mode")
T = TypeVar("T")


def __getattr__(name: str) -> Any:
    # The event model (pydantic) loads when something records, not when a command only reads.
    if name == "EventLike":
        from .events import UsageEvent

        return UsageEvent | Mapping[str, Any]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_split: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any]]] | None = None


def _split_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """events.split_fields, imported on the first record() rather than by every call (~0.6 µs of ~20)."""
    global _split
    if _split is None:
        from .events import split_fields

        _split = split_fields
    return _split(fields)


def build_event(
    first: EventLike | str, model: str | None, fields: Mapping[str, Any], defaults: Mapping[str, Any]
) -> EventLike:
    """`record(event)` or `record("anthropic", "claude-…", input_tokens=…, agent=…)`, with defaults under it."""
    if isinstance(first, str):
        top, meters = _split_fields(fields)
        data: dict[str, Any] = {**defaults, **top, "service": first}
        if model is not None:
            data["model"] = model
        data["usage"] = {**top.get("usage", {}), **meters}
        return data
    if model is not None or fields:
        raise TypeError("pass either an event, or service, model and keyword fields")
    if not defaults:
        return first
    from .events import UsageEvent

    if isinstance(first, UsageEvent):
        given = first.model_dump(exclude_unset=True)
        return first.model_copy(update={k: v for k, v in defaults.items() if k not in given})
    return {**defaults, **first}


class Ledger:
    """Records usage events, prices them, and keeps the totals.

    `Ledger()` opens the ledger $COSTLEDGER_DATABASE_URL or $COSTLEDGER_DB names, else the
    `database` of the nearest costledger.toml, else the embedded file in the user data dir;
    `Ledger("postgresql://…")` a shared PostgreSQL; `Ledger("path/to/file.db")` a file.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | None = None,
        *,
        config: Config | str | os.PathLike[str] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self.catalog = catalog or catalog_from_config(self.config)
        # Without a target, the config's `database` names the ledger, unless the environment does.
        self.location = locate(target, self.config)
        self.store = Store(self.location.target, storage=self.config.storage)
        from .alerts import Alerts
        from .budgets import Budgets, budgets_from_config

        self.budgets = Budgets(self.store, budgets_from_config(self.config))
        self.alerts = Alerts(self.store, self.config, budgets=self.budgets)
        self.store.on_write.extend(self.alerts.hooks)

    # -- recording ------------------------------------------------------------------------------

    def record(self, event: EventLike | str, model: str | None = None, /, **fields: Any) -> Recorded:
        """Record one event; it is committed before this returns."""
        return self.record_many([build_event(event, model, fields, {})])

    def record_many(self, events: Iterable[EventLike]) -> Recorded:
        """Validate the whole batch, price it, store it in one transaction.

        One invalid event refuses the batch (InvalidEvent) and nothing is stored.
        """
        from .events import parse_events

        parsed = parse_events(events, custom_meters=self.catalog.custom_meters)
        if not parsed:
            return Recorded(0, 0, 0, Decimal(0))
        now = clock.utcnow()
        rows = [self._row(e, now) for e in parsed]
        dear = [i for i, row in enumerate(rows) if row["cost"] is not None and row["cost"] > MAX_EVENT_NANOS]
        if dear:
            raise InvalidEvent([(i, "usage", too_dear(rows[i]["cost"])) for i in dear])
        written = self.store.write(rows)
        return Recorded(
            written.accepted,
            written.duplicates,
            written.unpriced,
            from_nanos(written.cost_nanos) or Decimal(0),
        )

    def _row(self, event: UsageEvent, now: dt.datetime | None = None) -> dict[str, Any]:
        """The stored row of `event`, priced; `now` (naive UTC, once per batch) is its ingest time."""
        from .events import to_json

        cost: int | None
        reason = ref = source = None
        if event.cost_usd is not None:
            cost, source = to_nanos(event.cost_usd), "reported"
        else:
            try:
                priced = self.catalog.price(event.service, event.model, event.usage, event.ts, event.service_tier)
            except UnknownPrice as exc:
                cost, reason = None, str(exc)
            else:
                cost, source, ref = to_nanos(priced.total), "catalog", priced.entry.ref
        ts = event.ts.replace(tzinfo=None)
        return {
            "event_id": event.event_id,
            "ts": ts,
            "day": ts.date(),
            "service": event.service,
            "model": event.model,
            "operation": event.operation,
            "session_id": event.session_id,
            "user_id": event.user_id,
            "tier": event.tier,
            "agent": event.agent,
            "mode": event.mode,
            "endpoint": event.endpoint,
            "usage": to_json(event.usage),
            "service_tier": event.service_tier,
            "tags": to_json(event.tags),
            "meta": to_json(event.metadata),
            "cost": cost,
            "cost_source": source,
            "price_ref": ref,
            "unpriced_reason": reason,
            "recorded_cost": to_nanos(event.recorded_cost_usd) if event.recorded_cost_usd is not None else None,
            "ingested_at": now or clock.utcnow(),
        }

    def session(self, session_id: str, **fields: Any) -> Session:
        """A context manager whose record() calls carry the session's id and fields."""
        return Session(self, session_id, fields)

    def record_anthropic(self, response: Any, **fields: Any) -> Recorded:
        """Record an Anthropic Message (or batch result, `batch=True` for its discount); see integrations."""
        from .integrations.anthropic import record_anthropic

        return record_anthropic(self, response, **fields)

    def record_openai(self, response: Any, **fields: Any) -> Recorded:
        """Record an OpenAI ChatCompletion or Response; see integrations."""
        from .integrations.openai import record_openai

        return record_openai(self, response, **fields)

    # -- reading --------------------------------------------------------------------------------

    def report(
        self,
        by: str | Sequence[str] = "service",
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tags: Mapping[str, str] | None = None,
        **dims: str,
    ) -> list[Total]:
        """Totals grouped by service, model, agent, user, tier, mode, session, day, week or month."""
        groups = [by] if isinstance(by, str) else list(by)
        return self.store.totals(groups, Filters(since=since, until=until, dims=dims, tags=tags or {}))

    def total_usd(self, **filters: Any) -> Decimal:
        return sum((t.cost_usd for t in self.report([], **filters)), start=Decimal(0))

    def session_summary(self, session_id: str) -> SessionSummary | None:
        return self.store.session(session_id)

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self.store.engine.connect() as connection:
            return work(connection)

    def daily_trend(
        self, days: int = 30, *, today: dt.date | None = None, tags: Mapping[str, str] | None = None, **dims: str
    ) -> list[Total]:
        """One total per UTC day of the last `days` days (today included), zeros where nothing happened."""
        filters = Filters(dims=dims, tags=tags or {})
        return self._read(lambda c: queries.daily_trend(c, days, filters, today))

    def sessions(
        self,
        *,
        sort: str = "started_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        since: dt.date | None = None,
        until: dt.date | None = None,
        min_cost: Decimal | None = None,
        max_cost: Decimal | None = None,
        tags: Mapping[str, str] | None = None,
        **dims: str,
    ) -> tuple[list[SessionSummary], int]:
        """A page of sessions (sorted by started_at, ended_at, cost, events or duration) and the count of all."""
        filters = Filters(since=since, until=until, dims=dims, tags=tags or {}, min_cost=min_cost, max_cost=max_cost)
        return self._read(lambda c: queries.list_sessions(c, filters, sort, descending, limit, offset))

    def session_events(self, session_id: str) -> list[dict[str, Any]]:
        """The session's events in time order, cost_usd a Decimal or None when unpriced."""
        return self._read(lambda c: queries.session_events(c, session_id))

    def top(
        self,
        by: str = "user",
        limit: int = 10,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tags: Mapping[str, str] | None = None,
        **dims: str,
    ) -> list[Total]:
        """The most expensive users, agents, models, services, tiers, modes or sessions."""
        filters = Filters(since=since, until=until, dims=dims, tags=tags or {})
        return self._read(lambda c: queries.top(c, by, limit, filters))

    def month_to_date(
        self, today: dt.date | None = None, *, tags: Mapping[str, str] | None = None, **dims: str
    ) -> queries.MonthToDate:
        """This month so far, today, the daily run rate and the month-end forecast."""
        filters = Filters(dims=dims, tags=tags or {})
        return self._read(lambda c: queries.month_to_date(c, today, filters))

    def overview(
        self, today: dt.date | None = None, *, tags: Mapping[str, str] | None = None, **dims: str
    ) -> queries.Overview:
        """Everything a dashboard's first page shows, in one call (see store/overview.py)."""
        filters = Filters(dims=dims, tags=tags or {})
        return self._read(lambda c: queries.overview(c, today, filters))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check_budget(
        self,
        estimate_usd: Decimal | str | int = 0,
        *,
        user_id: str | None = None,
        tier: str | None = None,
        session_id: str | None = None,
    ) -> BudgetCheck:
        """May `estimate_usd` more be spent? Raises BudgetExceeded (limit, spent, left) if not."""
        check = self.budgets.check(estimate_usd, user_id=user_id, tier=tier, session_id=session_id)
        if not check.allowed:
            raise check.exceeded()
        return check

    def reserve(
        self,
        estimate_usd: Decimal | str | int,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        tier: str | None = None,
        ttl: dt.timedelta | None = None,
    ) -> Reservation:
        """Hold `estimate_usd` against the budgets until the session's events settle it, or raise BudgetExceeded."""
        from .budgets import DEFAULT_TTL

        return self.budgets.reserve(
            estimate_usd, session_id=session_id, user_id=user_id, tier=tier, ttl=ttl or DEFAULT_TTL
        )


class Session:
    """One conversation, call or deliberation. Its events inherit its fields."""

    def __init__(self, ledger: Ledger, session_id: str, fields: Mapping[str, Any]) -> None:
        from .events import parse_event

        self.ledger = ledger
        self.session_id = session_id
        self.fields = {**fields, "session_id": session_id}
        self.recorded = Recorded(0, 0, 0, Decimal(0))
        # The session row holds these before any event does: checked as an event's would be (length, text).
        parse_event({"service": "session", **{k: v for k, v in self.fields.items() if k in _SESSION_FIELDS}})

    def __enter__(self) -> Session:
        self._touch()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._touch()

    def _touch(self) -> None:
        # Start and end are when the session was open, even if its first event comes later.
        self.ledger.store.touch_session(self.session_id, clock.utcnow(), dict(self.fields))

    def record(self, event: EventLike | str, model: str | None = None, /, **fields: Any) -> Recorded:
        return self.record_many([build_event(event, model, fields, {})])

    def record_many(self, events: Iterable[EventLike]) -> Recorded:
        batch = [build_event(e, None, {}, self.fields) for e in events]
        result = self.ledger.record_many(batch)
        self.recorded += result
        return result

    @property
    def summary(self) -> SessionSummary | None:
        return self.ledger.session_summary(self.session_id)

    @property
    def total_usd(self) -> Decimal:
        """The session's total in the ledger (events recorded elsewhere for it included)."""
        summary = self.summary
        return summary.cost_usd if summary else Decimal(0)

    @property
    def by_service(self) -> dict[str, Decimal]:
        summary = self.summary
        return dict(summary.by_service) if summary else {}

    def record_anthropic(self, response: Any, **fields: Any) -> Recorded:
        """Record an Anthropic Message (or batch result, `batch=True` for its discount) in this session."""
        from .integrations.anthropic import record_anthropic

        return record_anthropic(self, response, **fields)

    def record_openai(self, response: Any, **fields: Any) -> Recorded:
        """Record an OpenAI ChatCompletion or Response in this session."""
        from .integrations.openai import record_openai

        return record_openai(self, response, **fields)

    def reserve(self, estimate_usd: Decimal | str | int, *, ttl: dt.timedelta | None = None) -> Reservation:
        """Hold `estimate_usd` against this session's budgets (user, tier, session, global) before spending it.

        Raises BudgetExceeded with the limit, the spend and what is left. The session's events
        settle the reservation as they arrive; `with session.reserve(...):` releases what is left.
        """
        return self.ledger.reserve(
            estimate_usd, session_id=self.session_id, user_id=self.fields.get("user_id"),
            tier=self.fields.get("tier"), ttl=ttl,
        )  # fmt: skip
