"""How many sessions with events started each day per mode hold a cost in each band (session_bands),
kept by the writer beside session_starts (store/session_bands.py), and an index on the sessions by mode
and cost with their start (ix_sessions_mode_cost; declared in store/schema.py): a range's nearest-rank
percentiles of session cost by mode are found from a row per day, mode and band and one band's sessions,
instead of from every session of the range. Backfilled from the sessions table in one grouped statement.
The month index by mode and cost (0004), which served only a whole month's percentiles, is dropped: the
bands answer for any range, and SQLite took the new index for its walks.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NAME = "ix_sessions_mode_cost"
_MONTH = "ix_sessions_month_mode_cost"
# store/session_bands.stored_band as it was written for this revision: a cost below 100 nano-dollars is
# its own band, a larger one below 10^18 the band of its digits and first two digits, every negative
# one -1 and every one of 10^18 or more 9999.
_BAND = (
    "CASE WHEN cost_high < 0 THEN -1 WHEN cost_high > 0 THEN 9999 WHEN cost < 100 THEN cost"
    " ELSE length(CAST(cost AS VARCHAR)) * 100 + CAST(substr(CAST(cost AS VARCHAR), 1, 2) AS INTEGER) END"
)


def upgrade() -> None:
    op.drop_index(_MONTH, table_name="sessions")
    op.create_table(
        "session_bands",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("mode", sa.String(256), primary_key=True),
        sa.Column("band", sa.Integer(), primary_key=True),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    # The day as each backend keeps it in a Date column (SQLite: its 'YYYY-MM-DD' text); no mode as ''.
    day = "CAST(started_at AS DATE)" if dialect == "postgresql" else "substr(started_at, 1, 10)"
    op.execute(
        "INSERT INTO session_bands (day, mode, band, sessions) "
        f"SELECT {day}, coalesce(mode, ''), {_BAND}, count(*) FROM sessions WHERE events > 0 "
        f"GROUP BY {day}, coalesce(mode, ''), {_BAND}"
    )
    if dialect == "postgresql":
        op.create_index(NAME, "sessions", ["mode", "cost_high", "cost"], postgresql_where=sa.text("events > 0"),
                        postgresql_include=["started_at", "events"])  # fmt: skip
    else:
        op.create_index(NAME, "sessions", ["mode", "cost_high", "cost", "started_at", "events"],
                        sqlite_where=sa.text("events > 0"))  # fmt: skip


def downgrade() -> None:
    op.drop_index(NAME, table_name="sessions")
    op.drop_table("session_bands")
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.create_index(_MONTH, "sessions", [sa.text("date_trunc('month', started_at)"), "mode", "cost_high", "cost"],
                        postgresql_where=sa.text("events > 0"), postgresql_include=["started_at"])  # fmt: skip
    else:
        op.create_index(_MONTH, "sessions", [sa.text("substr(started_at, 1, 7)"), "mode", "cost_high", "cost"],
                        sqlite_where=sa.text("events > 0"))  # fmt: skip
