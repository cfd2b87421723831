"""API keys (stored hashed) and the audit log of deliberate repricing.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime()),
        sa.Column("last_used_at", sa.DateTime()),
    )
    op.create_table(
        "reprice_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("since", sa.DateTime()),
        sa.Column("until", sa.DateTime()),
        sa.Column("service", sa.String(64)),
        sa.Column("model", sa.String(256)),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("old_cost", sa.BigInteger(), nullable=False),
        sa.Column("new_cost", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_before", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_after", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("reprice_audit")
    op.drop_table("api_keys")
