"""Reprice on purpose: recompute the cost of stored events with the catalog in force now.

History keeps the price it was billed at until someone decides otherwise (a model
that was unknown is now priced, a negotiated rate was backdated). Then `reprice`
recomputes a range, in one transaction with the rollups and sessions, and records
what it did in `reprice_audit`. Nothing else ever changes a stored cost.

Events whose cost was *reported* by the caller (`cost_usd`) keep it. Prices apply at
each event's own timestamp, as at ingest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, desc, func, select, update

from . import clock
from .errors import UnknownPrice
from .money import MAX_EVENT_USD, from_nanos, to_nanos, too_dear, usd
from .pricing.meters import quantity
from .store.period_groups import count_periods
from .store.schema import events, reprice_audit
from .store.sums import stored_sum, stored_sums
from .store.writer import add_to_rollups

if TYPE_CHECKING:
    from .ledger import Ledger

# Events are read and rewritten in chunks so memory stays flat over millions of rows.
CHUNK = 5000

Progress = Callable[[int, int], None]  # (events done, events in range)

_PRICE_FIELDS = ("cost", "cost_source", "price_ref", "unpriced_reason")


@dataclass(frozen=True)
class Repriced:
    """What a reprice found and (unless dry_run) did."""

    since: dt.datetime | None
    until: dt.datetime | None
    service: str | None
    model: str | None
    dry_run: bool
    events: int  # in the range and filters
    changed: int  # whose cost, cost source or price entry changed
    old_cost_usd: Decimal
    new_cost_usd: Decimal
    unpriced_before: int
    unpriced_after: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "service": self.service,
            "model": self.model,
            "dry_run": self.dry_run,
            "events": self.events,
            "changed": self.changed,
            "old_cost_usd": usd(self.old_cost_usd),
            "new_cost_usd": usd(self.new_cost_usd),
            "unpriced_before": self.unpriced_before,
            "unpriced_after": self.unpriced_after,
        }


def _moment(value: dt.datetime | dt.date | None, end: bool) -> dt.datetime | None:
    """A naive UTC time as the store keeps it; a date `until` means through the end of that day."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
        return value
    if value.tzinfo is None:
        raise ValueError("since/until must be timezone-aware datetimes or dates")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def reprice(
    ledger: Ledger,
    since: dt.datetime | dt.date | None,
    until: dt.datetime | dt.date | None,
    service: str | None = None,
    model: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    note: str | None = None,
) -> Repriced:
    """Recompute costs of events with since <= ts < until (a date `until` is inclusive).

    Updates events, rollups, sessions and session costs in one transaction and writes an
    audit row. A dry run computes the same figures, changes no event or total, and is
    audited with dry_run=true so the log shows what was considered.
    """
    start, end = _moment(since, end=False), _moment(until, end=True)
    if start is not None and end is not None and start >= end:
        raise ValueError("--since must be before --until")
    service = service.lower() if service else None
    where = []
    if start is not None:
        where.append(events.c.ts >= start)
    if end is not None:
        where.append(events.c.ts < end)
    if service is not None:
        where.append(events.c.service == service)
    if model is not None:
        where.append(events.c.model == model)
    condition = and_(True, *where)

    def work(connection: Connection) -> Repriced:
        total = connection.execute(select(func.count()).select_from(events).where(condition)).scalar_one()
        seen = changed = old_cost = new_cost = unpriced_before = unpriced_after = 0
        last_id = -1
        if progress is not None:
            progress(0, total)
        while True:
            rows = [
                dict(row._mapping)
                for row in connection.execute(
                    select(events).where(condition, events.c.id > last_id).order_by(events.c.id).limit(CHUNK)
                )
            ]
            if not rows:
                break
            last_id = rows[-1]["id"]
            olds, news, updates = [], [], []
            for row in rows:
                new = {**row, **_price(ledger, row)}
                old_cost += row["cost"] or 0
                new_cost += new["cost"] or 0
                unpriced_before += row["cost"] is None
                unpriced_after += new["cost"] is None
                # The unpriced reason alone is not a change: its "did you mean" list is only advice.
                if any(row[f] != new[f] for f in ("cost", "cost_source", "price_ref")):
                    changed += 1
                    updates.append({f"_{f}": new[f] for f in ("id", *_PRICE_FIELDS)})
                    if row["cost"] != new["cost"]:
                        olds.append(row)
                        news.append(new)
            if not dry_run and updates:
                statement = (
                    update(events)
                    .where(events.c.id == bindparam("_id"))
                    .values({f: bindparam(f"_{f}") for f in _PRICE_FIELDS})
                )
                connection.execute(statement, updates)
                # Every aggregate the ingest keeps moves with the events: the rollups and
                # the period totals that alerts, budgets and the overview read.
                count_periods(connection, add_to_rollups(connection, olds, sign=-1))
                count_periods(connection, add_to_rollups(connection, news, sign=1))
            seen += len(rows)
            if progress is not None:
                progress(seen, total)
        result = Repriced(
            since=start.replace(tzinfo=dt.UTC) if start else None,
            until=end.replace(tzinfo=dt.UTC) if end else None,
            service=service,
            model=model,
            dry_run=dry_run,
            events=seen,
            changed=changed,
            old_cost_usd=from_nanos(old_cost) or Decimal(0),
            new_cost_usd=from_nanos(new_cost) or Decimal(0),
            unpriced_before=unpriced_before,
            unpriced_after=unpriced_after,
        )
        connection.execute(
            reprice_audit.insert().values(
                at=clock.utcnow(),
                since=start,
                until=end,
                service=service,
                model=model,
                dry_run=dry_run,
                events=seen,
                changed=changed,
                **stored_sums(old_cost=old_cost, new_cost=new_cost),
                unpriced_before=unpriced_before,
                unpriced_after=unpriced_after,
                note=note,
            )
        )
        return result

    return ledger.store.transaction(work)


def _price(ledger: Ledger, row: dict[str, Any]) -> dict[str, Any]:
    """The price fields the catalog gives this stored event now."""
    if row["cost_source"] == "reported":
        return {f: row[f] for f in _PRICE_FIELDS}
    usage = {meter: quantity(value, f"usage.{meter}") for meter, value in json.loads(row["usage"]).items()}
    at = row["ts"].replace(tzinfo=dt.UTC)
    try:
        priced = ledger.catalog.price(row["service"], row["model"], usage, at, row["service_tier"])
    except UnknownPrice as exc:
        return {"cost": None, "cost_source": None, "price_ref": None, "unpriced_reason": str(exc)}
    if priced.total > MAX_EVENT_USD:
        # As ingest refuses it; raised inside the transaction, so nothing is repriced.
        raise ValueError(f"event {row['event_id']} {too_dear(to_nanos(priced.total))}; nothing was repriced")
    return {"cost": to_nanos(priced.total), "cost_source": "catalog", "price_ref": priced.entry.ref,
            "unpriced_reason": None}  # fmt: skip


def audit_log(ledger: Ledger, limit: int = 50) -> list[dict[str, Any]]:
    """The latest reprice audit entries, newest first."""
    with ledger.store.engine.connect() as connection:
        rows = connection.execute(select(reprice_audit).order_by(desc(reprice_audit.c.id)).limit(limit))
        out = []
        for row in rows:
            entry = dict(row._mapping)
            for name in ("at", "since", "until"):
                entry[name] = entry[name].replace(tzinfo=dt.UTC).isoformat() if entry[name] else None
            for name in ("old_cost", "new_cost"):
                entry[f"{name}_usd"] = usd(from_nanos(stored_sum(entry, name)))
                del entry[name], entry[f"{name}_high"]
            entry["dry_run"] = bool(entry["dry_run"])
            out.append(entry)
        return out


__all__ = ["Repriced", "audit_log", "reprice"]
