"""Events, daily rollups, sessions and their per-service costs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_DIMS = ("service", "model", "agent", "user_id", "tier", "mode")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(128), nullable=False, unique=True),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256)),
        sa.Column("operation", sa.String(64)),
        sa.Column("session_id", sa.String(256)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("tier", sa.String(256)),
        sa.Column("agent", sa.String(256)),
        sa.Column("mode", sa.String(256)),
        sa.Column("endpoint", sa.String(256)),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("cost", sa.BigInteger()),
        sa.Column("cost_source", sa.String(16)),
        sa.Column("price_ref", sa.String(300)),
        sa.Column("unpriced_reason", sa.Text()),
        sa.Column("recorded_cost", sa.BigInteger()),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_session", "events", ["session_id"])
    op.create_table(
        "rollup_daily",
        sa.Column("day", sa.Date(), primary_key=True),
        *(sa.Column(name, sa.String(256), primary_key=True) for name in _DIMS),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(256), primary_key=True),
        sa.Column("user_id", sa.String(256)),
        sa.Column("tier", sa.String(256)),
        sa.Column("mode", sa.String(256)),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sessions_started", "sessions", ["started_at"])
    op.create_table(
        "session_costs",
        sa.Column("session_id", sa.String(256), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("agent", sa.String(256), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("session_costs", "sessions", "rollup_daily", "events"):
        op.drop_table(table)
