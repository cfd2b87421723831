"""Alerts, budgets and the event bus: rules, fired alerts, delivery queue and attempts,
budget reservations, bus outbox, and per-period totals (backfilled from rollup_daily).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_DIMS = ("service", "model", "agent", "user_id", "tier", "mode")
_TOTAL_DIMS = ("service", "agent", "user_id", "tier", "mode")


def upgrade() -> None:
    totals = op.create_table(
        "period_totals",
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,  # looked up by its key only: one B-tree instead of a table and an index
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "fired_alerts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("period", sa.String(300), nullable=False),
        sa.Column("value", sa.BigInteger()),
        sa.Column("threshold", sa.BigInteger()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.Column("acked_at", sa.DateTime()),
        sa.Column("acked_by", sa.String(128)),
        sa.UniqueConstraint("rule", "subject", "period", name="uq_fired_alerts_once"),
    )
    op.create_index("ix_fired_alerts_fired_at", "fired_alerts", ["fired_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_deliveries_channel"),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "budget_reservations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(256)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("tier", sa.String(256)),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("estimate", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime()),
    )
    op.create_index("ix_budget_reservations_open", "budget_reservations", ["settled_at", "expires_at"])
    op.create_index("ix_budget_reservations_session", "budget_reservations", ["session_id"])
    op.create_table(
        "bus_outbox",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("msg_id", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime()),
    )
    op.create_index("ix_bus_outbox_pending", "bus_outbox", ["published_at", "id"])
    _backfill(totals)


def _backfill(totals: sa.Table) -> None:
    """Existing events count into the period totals, so a rule added later sees the whole day."""
    rollup = sa.table(
        "rollup_daily", sa.column("day"), *(sa.column(d) for d in _DIMS), sa.column("events"),
        sa.column("unpriced"), sa.column("cost"),
    )  # fmt: skip
    sums: dict[tuple[str, str, str], list[int]] = {}
    for row in op.get_bind().execute(sa.select(rollup)).mappings():
        day = str(row["day"])[:10]
        for period in (day, day[:7]):
            keys = [("", "")] + [(d, row[d]) for d in _TOTAL_DIMS if row[d]]
            for dimension, value in keys:
                bucket = sums.setdefault((period, dimension, value), [0, 0, 0])
                bucket[0] += int(row["events"])
                bucket[1] += int(row["unpriced"])
                bucket[2] += int(row["cost"])
    if sums:
        op.bulk_insert(
            totals,
            [
                {"period": p, "dimension": d, "value": v, "events": e, "unpriced": u, "cost": c}
                for (p, d, v), (e, u, c) in sorted(sums.items())
            ],
        )


def downgrade() -> None:
    for table in (
        "bus_outbox", "budget_reservations", "delivery_attempts", "alert_deliveries", "fired_alerts", "alert_rules",
        "period_totals",
    ):  # fmt: skip
        op.drop_table(table)
