"""Tables of alerts, budgets and the event bus (migration 0003).

Kept apart from schema.py because they belong to one capability: rules added
from the CLI, fired alerts and their figures, the delivery queue with every
attempt, budget reservations, the bus outbox, and the per-period totals that
make an alert check or a budget check one primary-key lookup.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from .schema import _ID, metadata, sum_columns

# Totals per period ('2026-11-23' or '2026-11') × one dimension ('' = everything).
# rollup_daily is keyed by all six dimensions at once, so a day's total is a sum over
# every user × model × agent combination of that day; this table keeps it in one row.
period_totals = Table(
    "period_totals",
    metadata,
    Column("period", String(10), primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("value", String(256), primary_key=True),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    *sum_columns(),
    sqlite_with_rowid=False,
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("spec", Text(), nullable=False),  # JSON, the same keys as an [[alerts]] table
    Column("created_at", DateTime(), nullable=False),
)

fired_alerts = Table(
    "fired_alerts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("rule", String(300), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("period", String(300), nullable=False),
    # Decimal text of nano-USD (or a count for `unpriced`): a period's total may pass 64 bits.
    Column("value", Text()),
    Column("threshold", Text()),
    Column("message", Text(), nullable=False),
    Column("details", Text(), nullable=False),  # JSON figures
    Column("fired_at", DateTime(), nullable=False),
    Column("acked_at", DateTime()),
    Column("acked_by", String(128)),
    # One alert per rule per subject per period, even with many ingest processes.
    UniqueConstraint("rule", "subject", "period", name="uq_fired_alerts_once"),
)
Index("ix_fired_alerts_fired_at", fired_alerts.c.fired_at)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger(), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", DateTime(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("sent_at", DateTime()),
    Column("last_error", Text()),
    UniqueConstraint("alert_id", "channel", name="uq_alert_deliveries_channel"),
)
Index("ix_alert_deliveries_due", alert_deliveries.c.status, alert_deliveries.c.next_attempt_at)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger(), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("ok", Boolean(), nullable=False),
    Column("error", Text()),
    Column("elapsed_ms", Integer(), nullable=False),
)
Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id)

budget_reservations = Table(
    "budget_reservations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("session_id", String(256)),
    Column("user_id", String(256)),
    Column("tier", String(256)),
    Column("amount", BigInteger(), nullable=False),  # nano-USD still held; settlement lowers it
    Column("estimate", BigInteger(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("settled_at", DateTime()),
)
Index("ix_budget_reservations_open", budget_reservations.c.settled_at, budget_reservations.c.expires_at)
Index("ix_budget_reservations_session", budget_reservations.c.session_id)

bus_outbox = Table(
    "bus_outbox",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("subject", String(300), nullable=False),
    Column("msg_id", String(400), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("published_at", DateTime()),
)
Index("ix_bus_outbox_pending", bus_outbox.c.published_at, bus_outbox.c.id)
