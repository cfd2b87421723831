"""How many sessions with events started each day, per tier and mode (session_starts), kept by the
writer beside the sessions (store/session_starts.py): a range's session counts are read from a row
per day, tier and mode instead of from every session of the range. Backfilled from the sessions
table in one grouped statement.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_starts",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("tier", sa.String(256), primary_key=True),
        sa.Column("mode", sa.String(256), primary_key=True),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    # The day as each backend keeps it in a Date column (SQLite: its 'YYYY-MM-DD' text); none as ''.
    day = "CAST(started_at AS DATE)" if op.get_bind().dialect.name == "postgresql" else "substr(started_at, 1, 10)"
    op.execute(
        "INSERT INTO session_starts (day, tier, mode, sessions) "
        f"SELECT {day}, coalesce(tier, ''), coalesce(mode, ''), count(*) FROM sessions WHERE events > 0 "
        f"GROUP BY {day}, coalesce(tier, ''), coalesce(mode, '')"
    )


def downgrade() -> None:
    op.drop_table("session_starts")
