"""session_bands kept per tier too (day, tier, mode, band): the plans' sessions at their limit are a
tier's (the plan of a session without a subscription is its tier's), so a plan's exact p50/p90 session
cost is read from its tier's bands and one band's sessions, like the modes' (store/plan_ranks.py).
The readers by mode sum the tiers. Refilled from the sessions table.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# store/session_bands.stored_band as it is written for this revision (the same as 0013's).
_BAND = (
    "CASE WHEN cost_high < 0 THEN -1 WHEN cost_high > 0 THEN 9999 WHEN cost < 100 THEN cost"
    " ELSE length(CAST(cost AS VARCHAR)) * 100 + CAST(substr(CAST(cost AS VARCHAR), 1, 2) AS INTEGER) END"
)


def _refill(by_tier: bool) -> None:
    op.drop_table("session_bands")
    keys = [sa.Column("day", sa.Date(), primary_key=True)]
    if by_tier:
        keys.append(sa.Column("tier", sa.String(256), primary_key=True))
    op.create_table(
        "session_bands",
        *keys,
        sa.Column("mode", sa.String(256), primary_key=True),
        sa.Column("band", sa.Integer(), primary_key=True),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    # The day as each backend keeps it in a Date column (SQLite: its 'YYYY-MM-DD' text); none as ''.
    day = "CAST(started_at AS DATE)" if dialect == "postgresql" else "substr(started_at, 1, 10)"
    tier = ["coalesce(tier, '')"] if by_tier else []
    key = ", ".join([day, *tier, "coalesce(mode, '')", _BAND])
    names = ", ".join(["day", *(["tier"] if by_tier else []), "mode", "band"])
    op.execute(
        f"INSERT INTO session_bands ({names}, sessions) SELECT {key}, count(*) FROM sessions WHERE events > 0 "
        f"GROUP BY {key}"
    )


def upgrade() -> None:
    _refill(by_tier=True)


def downgrade() -> None:
    _refill(by_tier=False)
