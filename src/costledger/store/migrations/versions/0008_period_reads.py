"""Reads bounded by the period: the period totals per model too, and totals per pair of dimensions
(period_pairs: service × model, user × tier …) per day and per month, both backfilled from the
daily rollups, so that a page's totals over a range are read from its months and leftover days
(store/period_reads.py) instead of every rollup row of the range.

The backfill groups the rollups in the database (one statement per pair; each money sum in the
halves store/sums.py uses, so no SUM overflows) and adds the days up into months here.

Revision ID: 0008
Revises: 0007
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SPLIT = 10**18
_DOLLAR = 10**9
# As store/period_groups.PAIRS was when this revision was written.
PAIRS = (
    ("service", "model"), ("service", "agent"), ("service", "tier"), ("service", "mode"),
    ("model", "tier"), ("model", "mode"),
    ("tier", "mode"),
    ("user_id", "tier"),
)  # fmt: skip
_DIMS = ("service", "model", "agent", "user_id", "tier", "mode")

_COUNTS = (
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("unpriced", sa.BigInteger(), nullable=False),
    sa.Column("cost_high", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    sa.Column("cost", sa.BigInteger(), nullable=False),
)


def _rollup() -> Any:
    counts = (sa.column(name, sa.BigInteger()) for name in ("events", "unpriced", "cost_high", "cost"))
    return sa.table("rollup_daily", sa.column("day"), *(sa.column(d, sa.String()) for d in _DIMS), *counts)


def _grouped(names: tuple[str, ...], without_blank: bool = False) -> dict[tuple[str, ...], list[int]]:
    """(day, *values of the columns `names`) → [events, unpriced, nano-dollars] of the rollups, and
    (month, *values) → the same summed over the month's days. `without_blank`: rows whose value is ''
    (none) left out."""
    r = _rollup()
    keys = [r.c[name] for name in names]
    where = keys[0] != "" if without_blank else None
    sums = [
        sa.func.sum(r.c.events), sa.func.sum(r.c.unpriced), sa.func.sum(r.c.cost_high),
        sa.func.sum(r.c.cost // _DOLLAR), sa.func.sum(r.c.cost % _DOLLAR),
    ]  # fmt: skip
    query = sa.select(r.c.day, *keys, *sums).group_by(r.c.day, *keys)
    if where is not None:
        query = query.where(where)
    out: dict[tuple[str, ...], list[int]] = {}
    width = 1 + len(keys)
    for row in op.get_bind().execute(query):
        day = str(row[0])[:10]
        events, unpriced, high, dollars, nanos = (int(v or 0) for v in row[width:])
        counts = (events, unpriced, high * SPLIT + dollars * _DOLLAR + nanos)
        if events == 0 and counts[2] == 0:
            continue
        for period in (day, day[:7]):
            found = out.setdefault((period, *(str(v or "") for v in row[1:width])), [0, 0, 0])
            for i, value in enumerate(counts):
                found[i] += value
    return out


def _rows(names: tuple[str, ...], sums: dict[tuple[str, ...], list[int]], **fixed: str) -> list[dict[str, Any]]:
    rows = []
    for key, (events, unpriced, cost) in sorted(sums.items()):
        if events == 0 and cost == 0:
            continue
        high, low = divmod(cost, SPLIT)
        rows.append({**fixed, **dict(zip(names, key, strict=True)), "events": events, "unpriced": unpriced,
                     "cost_high": high, "cost": low})  # fmt: skip
    return rows


def upgrade() -> None:
    pairs = op.create_table(
        "period_pairs",
        sa.Column("pair", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("a", sa.String(256), primary_key=True),
        sa.Column("b", sa.String(256), primary_key=True),
        *(c._copy() for c in _COUNTS),
        sqlite_with_rowid=False,
    )
    totals = sa.table("period_totals", sa.column("period"), sa.column("dimension"), sa.column("value"),
                      *(sa.column(c.name) for c in _COUNTS))  # fmt: skip
    models = _grouped(("model",), without_blank=True)
    rows = _rows(("period", "value"), models, dimension="model")
    for start in range(0, len(rows), 5000):
        op.bulk_insert(totals, rows[start : start + 5000])  # type: ignore[arg-type]
    for a, b in PAIRS:
        found = _grouped((a, b))
        rows = _rows(("period", "a", "b"), found, pair=f"{a},{b}")
        for start in range(0, len(rows), 5000):
            op.bulk_insert(pairs, rows[start : start + 5000])


def downgrade() -> None:
    op.drop_table("period_pairs")
    op.execute("DELETE FROM period_totals WHERE dimension = 'model'")
