"""An index on the time of payment events (service "stripe") alone: the margins read a range's
payments, and the payments that belong to sessions, without stepping over the range's other events
(margins/figures.py; declared in store/schema.py). Partial, so it holds a row per payment only and
costs nothing to ingest usage.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAME = "ix_events_payments"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index(NAME, "events", ["ts"], **{f"{dialect}_where": sa.text("service = 'stripe'")})


def downgrade() -> None:
    op.drop_index(NAME, table_name="events")
