"""A partial index on the sessions without events, by start (declared in store/schema.py): a session
listing's count (`GET /v1/sessions`) is the kept counts of the sessions with events (session_starts)
plus these few, instead of a pass over every session of the range (10M events: 865,492 sessions).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

NAME = "ix_sessions_empty"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index(NAME, "sessions", ["started_at"], **{f"{dialect}_where": sa.text("events = 0")})


def downgrade() -> None:
    op.drop_index(NAME, table_name="sessions")
