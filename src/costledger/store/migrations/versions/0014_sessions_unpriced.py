"""An index on the sessions with unpriced events, by start (declared in store/schema.py): a range's
sessions with unpriced events (`/sessions?unpriced=true`) are found among those few instead of every
session of the range (10M events: 14,815 of 865,492 sessions).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NAME = "ix_sessions_unpriced"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index(NAME, "sessions", ["started_at"], **{f"{dialect}_where": sa.text("unpriced > 0")})


def downgrade() -> None:
    op.drop_index(NAME, table_name="sessions")
