"""Two indexes for totals grouped by session from the sessions table (store/session_groups.py, declared
in store/schema.py): the sessions by their end, then start, so the sessions that started before a range
and ran into it are found among those that end after its first day, not among every session before
it; and the events of no session by day (a partial index: payments and other events outside any
session, 6,269 of the realistic 1M), so they are read without grouping every event of the range.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ENDED, NO_SESSION = "ix_sessions_ended", "ix_events_no_session"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index(ENDED, "sessions", ["ended_at", "started_at"])
    # SQLite's with a unary plus, as store/schema.py says why.
    where = "+session_id IS NULL" if dialect == "sqlite" else "session_id IS NULL"
    op.create_index(NO_SESSION, "events", ["day"], **{f"{dialect}_where": sa.text(where)})


def downgrade() -> None:
    op.drop_index(NO_SESSION, table_name="events")
    op.drop_index(ENDED, table_name="sessions")
