"""Fired alerts and their delivery queue.

An alert is stored, with one delivery row per channel, in the transaction that
counted the events that fired it; channels are contacted later by a worker (see
worker.py), so ingest never waits on Slack. Every attempt is recorded; a delivery
that keeps failing ends as `failed`, still stored and listed, never dropped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, select, update

from .. import clock
from ..money import from_nanos, usd
from ..store.alerts_schema import alert_deliveries, delivery_attempts, fired_alerts
from .totals import raw


def utcnow() -> dt.datetime:
    return clock.utcnow()


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    channel: str
    status: str  # pending | sent | failed
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None = None
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class Alert:
    """A fired alert with its figures (as stored) and where it was delivered."""

    id: int
    rule: str
    kind: str
    subject: str
    period: str
    value: int | None
    threshold: int | None
    message: str
    details: Mapping[str, Any]
    fired_at: dt.datetime
    acked_at: dt.datetime | None = None
    acked_by: str | None = None
    deliveries: tuple[Delivery, ...] = field(default_factory=tuple)

    @property
    def message_id(self) -> str:
        """Its id on NATS: stable across re-sends, distinct from another database's alert of the same number."""
        return f"alert-{self.id}-{self.fired_at:%Y%m%dT%H%M%S%f}"

    @property
    def value_usd(self) -> Decimal | None:
        return None if self.kind == "unpriced" else from_nanos(self.value)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: what webhooks, NATS, `alerts history --json` and GET /v1/alerts carry."""
        money = self.kind != "unpriced"
        return {
            "id": self.id,
            "rule": self.rule,
            "kind": self.kind,
            "subject": self.subject,
            "period": self.period,
            "value_usd": usd(from_nanos(self.value)) if money else None,
            "threshold_usd": usd(from_nanos(self.threshold)) if money else None,
            "value": None if money else self.value,
            "threshold": None if money else self.threshold,
            "message": self.message,
            "details": dict(self.details),
            "fired_at": self.fired_at.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z"),
            "acked_at": self.acked_at.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
            if self.acked_at
            else None,
            "acked_by": self.acked_by,
            "deliveries": [
                {"channel": d.channel, "status": d.status, "attempts": d.attempts, "last_error": d.last_error}
                for d in self.deliveries
            ],
        }


def insert_alert(
    connection: Connection,
    *,
    rule: str,
    kind: str,
    subject: str,
    period: str,
    value: int | None,
    threshold: int | None,
    message: str,
    details: Mapping[str, Any],
    channels: Sequence[str],
    now: dt.datetime,
) -> int | None:
    """Store a fired alert and queue it on `channels`; None when this rule already fired for
    this subject and period (the unique key settles races between processes)."""
    found = raw(
        connection,
        "INSERT INTO fired_alerts (rule, kind, subject, period, value, threshold, message, details, fired_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, subject, period) DO NOTHING RETURNING id",
        (
            rule,
            kind,
            subject,
            period,
            None if value is None else str(value),  # text: a period's total may pass 64 bits
            None if threshold is None else str(threshold),
            message,
            json.dumps(details, default=str),
            _when(connection, now),
        ),
    )
    alert_id = found[0][0] if found else None
    if alert_id is None:
        return None
    if channels:
        # Straight to the driver, like the insert above: alerts are stored inside the ingest transaction.
        when = _when(connection, now)
        raw(
            connection,
            "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, next_attempt_at, created_at) "
            "VALUES (?, ?, 'pending', 0, ?, ?)",
            [(alert_id, c, when, when) for c in channels],
            many=True,
        )
    return int(alert_id)


def _when(connection: Connection, moment: dt.datetime) -> Any:
    # SQLAlchemy stores SQLite datetimes as ISO text with microseconds; the driver is given the same.
    return moment if connection.dialect.name == "postgresql" else moment.isoformat(sep=" ", timespec="microseconds")


def due(connection: Connection, now: dt.datetime, limit: int = 50) -> list[Delivery]:
    c = alert_deliveries.c
    rows = connection.execute(
        select(alert_deliveries)
        .where(and_(c.status == "pending", c.next_attempt_at <= now))
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    return [_delivery(r) for r in rows]


def claim(connection: Connection, delivery: Delivery, until: dt.datetime) -> bool:
    """Take a due delivery for a while (so another worker does not send it at the same time)."""
    c = alert_deliveries.c
    result = connection.execute(
        update(alert_deliveries)
        .where(and_(c.id == delivery.id, c.status == "pending", c.next_attempt_at == delivery.next_attempt_at))
        .values(next_attempt_at=until)
    )
    return result.rowcount == 1


def record_attempt(
    connection: Connection,
    delivery: Delivery,
    *,
    error: str | None,
    elapsed_ms: int,
    now: dt.datetime,
    retry_at: dt.datetime | None,
) -> None:
    """Record one attempt; `retry_at` None after a failure means the delivery gives up as `failed`."""
    connection.execute(
        delivery_attempts.insert().values(
            delivery_id=delivery.id, at=now, ok=error is None, error=error, elapsed_ms=elapsed_ms
        )
    )
    values: dict[str, Any] = {"attempts": alert_deliveries.c.attempts + 1, "last_error": error}
    if error is None:
        values.update(status="sent", sent_at=now)
    elif retry_at is None:
        values.update(status="failed")
    else:
        values.update(next_attempt_at=retry_at)
    connection.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery.id).values(**values))


def attempts(connection: Connection, delivery_id: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id).order_by(delivery_attempts.c.id)
    )
    return [{"at": r.at, "ok": bool(r.ok), "error": r.error, "elapsed_ms": r.elapsed_ms} for r in rows]


def load_alert(connection: Connection, alert_id: int) -> Alert | None:
    found = history(connection, ids=[alert_id])
    return found[0] if found else None


def history(
    connection: Connection,
    *,
    since: dt.datetime | None = None,
    kind: str | None = None,
    unacked: bool = False,
    ids: Iterable[int] | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Fired alerts, newest first, with their deliveries."""
    c = fired_alerts.c
    query = select(fired_alerts).order_by(c.fired_at.desc(), c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(c.fired_at >= since)
    if kind is not None:
        query = query.where(c.kind == kind)
    if unacked:
        query = query.where(c.acked_at.is_(None))
    if ids is not None:
        query = query.where(c.id.in_(list(ids)))
    rows = connection.execute(query).all()
    deliveries: dict[int, list[Delivery]] = {}
    if rows:
        found = connection.execute(
            select(alert_deliveries)
            .where(alert_deliveries.c.alert_id.in_([r.id for r in rows]))
            .order_by(alert_deliveries.c.id)
        )
        for d in found:
            deliveries.setdefault(int(d.alert_id), []).append(_delivery(d))
    return [
        Alert(id=int(r.id), rule=r.rule, kind=r.kind, subject=r.subject, period=r.period, value=_whole(r.value),
              threshold=_whole(r.threshold), message=r.message, details=json.loads(r.details), fired_at=r.fired_at,
              acked_at=r.acked_at, acked_by=r.acked_by, deliveries=tuple(deliveries.get(int(r.id), ())))
        for r in rows
    ]  # fmt: skip


def ack(connection: Connection, ids: Iterable[int], by: str | None, now: dt.datetime) -> int:
    """Acknowledge alerts (someone is on it); returns how many were newly acknowledged."""
    from ..events import storable

    if by is not None and (len(by) > 128 or not storable(by)):
        raise ValueError("who acknowledges is at most 128 characters, without NUL")  # the column's size
    c = fired_alerts.c
    result = connection.execute(
        update(fired_alerts).where(and_(c.id.in_(list(ids)), c.acked_at.is_(None))).values(acked_at=now, acked_by=by)
    )
    return int(result.rowcount)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id), alert_id=int(row.alert_id), channel=row.channel, status=row.status,
        attempts=int(row.attempts), next_attempt_at=row.next_attempt_at, last_error=row.last_error,
        sent_at=row.sent_at,
    )  # fmt: skip


def _whole(value: object) -> int | None:
    return None if value is None else int(str(value))
