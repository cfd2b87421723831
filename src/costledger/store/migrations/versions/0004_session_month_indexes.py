"""Indexes on the month a session started in, by mode and cost and by tier and user, over the
sessions with events: the overview's cost per session by mode and users per tier are answered
from them (store/overview.py; declared in store/schema.py).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_INDEXES = {"ix_sessions_month_mode_cost": ["mode", "cost"], "ix_sessions_month_tier_user": ["tier", "user_id"]}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    options: dict[str, object] = {f"{dialect}_where": sa.text("events > 0")}
    if dialect == "postgresql":
        # The same expressions as schema.session_month: SQLite stores datetimes as text
        # 'YYYY-MM-DD HH:MM:SS.ffffff'. PostgreSQL needs started_at itself in the index for an
        # index-only scan on an expression of it.
        month = sa.text("date_trunc('month', started_at)")
        options["postgresql_include"] = ["started_at"]
    else:
        month = sa.text("substr(started_at, 1, 7)")
    for name, columns in _INDEXES.items():
        op.create_index(name, "sessions", [month, *columns], **options)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="sessions")
