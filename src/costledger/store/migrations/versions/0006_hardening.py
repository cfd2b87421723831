"""Stored sums of money that cannot overflow: a high part (10^18 nano-dollars) beside each summed
cost, the month index by mode ordered by both parts, and fired alerts' figures as decimal text; and
dashboard sign-ins kept server-side, so signing out revokes the cookie; a row `/healthz` writes to
find out whether the storage can write.

A 64-bit column of nano-dollars holds at most about $9.22e9; a rollup, a session or a month's
total could pass it (see money.py). Adding a column with a constant default is instant on both
backends; only rows already at or past 10^18 nano-dollars are rewritten. On SQLite a sum that had
overflowed before this revision was already a float, with its last digits lost: it is split as
well as a float allows, and `costledger db check` lists it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SPLIT = 10**18
# table → the summed money columns it holds
_SUMS = {
    "rollup_daily": ("cost",),
    "sessions": ("cost",),
    "session_costs": ("cost",),
    "period_totals": ("cost",),
    "reprice_audit": ("old_cost", "new_cost"),
}


def _month(dialect: str) -> sa.TextClause:
    # The same expression as schema.session_month (and 0004).
    return sa.text("date_trunc('month', started_at)" if dialect == "postgresql" else "substr(started_at, 1, 7)")


def _index(dialect: str, columns: list[str]) -> None:
    options: dict[str, object] = {f"{dialect}_where": sa.text("events > 0")}
    if dialect == "postgresql":
        options["postgresql_include"] = ["started_at"]
    op.create_index("ix_sessions_month_mode_cost", "sessions", [_month(dialect), *columns], **options)


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime()),
    )
    op.create_table(
        "health_probe",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("written_at", sa.DateTime(), nullable=False),
    )
    for table, names in _SUMS.items():
        for name in names:
            op.add_column(table, sa.Column(f"{name}_high", sa.BigInteger(), nullable=False, server_default="0"))
            # Integer division and remainder on both backends; on SQLite a float (an old overflow) is cast.
            low = f"CAST({name} AS INTEGER)" if dialect == "sqlite" else name
            op.execute(
                f"UPDATE {table} SET {name}_high = {low} / {SPLIT}, {name} = {low} % {SPLIT} WHERE {name} >= {SPLIT}"
            )
    op.drop_index("ix_sessions_month_mode_cost", table_name="sessions")
    _index(dialect, ["mode", "cost_high", "cost"])
    # A fired alert's value is a period's total: text, so it may pass 64 bits.
    with op.batch_alter_table("fired_alerts") as batch:
        for name in ("value", "threshold"):
            batch.alter_column(name, type_=sa.Text(), existing_type=sa.BigInteger(),
                               postgresql_using=f"{name}::text")  # fmt: skip


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("dashboard_sessions")
    op.drop_table("health_probe")
    with op.batch_alter_table("fired_alerts") as batch:
        for name in ("value", "threshold"):
            batch.alter_column(name, type_=sa.BigInteger(), existing_type=sa.Text(),
                               postgresql_using=f"{name}::bigint")  # fmt: skip
    op.drop_index("ix_sessions_month_mode_cost", table_name="sessions")
    _index(dialect, ["mode", "cost"])
    for table, names in _SUMS.items():
        for name in names:
            op.execute(f"UPDATE {table} SET {name} = {name} + {name}_high * {SPLIT} WHERE {name}_high <> 0")
            with op.batch_alter_table(table) as batch:
                batch.drop_column(f"{name}_high")
