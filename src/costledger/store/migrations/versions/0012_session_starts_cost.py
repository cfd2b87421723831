"""The cost of the sessions started per day, tier and mode beside their count (session_starts.cost_high,
cost: a stored sum, money.py), kept by the writer as each session's cost grows: a range's sessions' metered
cost is read from a row per day, tier and mode instead of from every session of the range. Backfilled
from the sessions table, grouped in the database with the money summed in halves (no SUM overflows).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SPLIT = 10**18
_DOLLAR = 10**9


def upgrade() -> None:
    with op.batch_alter_table("session_starts") as batch:
        batch.add_column(sa.Column("cost_high", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("cost", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
    bind = op.get_bind()
    day = "CAST(started_at AS DATE)" if bind.dialect.name == "postgresql" else "substr(started_at, 1, 10)"
    grouped = bind.execute(
        sa.text(
            f"SELECT {day}, coalesce(tier, ''), coalesce(mode, ''), sum(cost_high), sum(cost / {_DOLLAR}), "
            f"sum(cost % {_DOLLAR}) FROM sessions WHERE events > 0 GROUP BY {day}, coalesce(tier, ''), "
            "coalesce(mode, '')"
        )
    )
    rows = []
    for key_day, tier, mode, high, dollars, nanos in grouped:
        total = int(high or 0) * SPLIT + int(dollars or 0) * _DOLLAR + int(nanos or 0)
        high_part, low = divmod(total, SPLIT)
        rows.append({"day": key_day, "tier": tier, "mode": mode, "high": high_part, "low": low})
    if rows:
        bind.execute(
            sa.text("UPDATE session_starts SET cost_high = :high, cost = :low WHERE day = :day AND tier = :tier "
                    "AND mode = :mode"),
            rows,
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("session_starts") as batch:
        batch.drop_column("cost")
        batch.drop_column("cost_high")
