"""SQLite: the rollups, the sessions and the per-session costs become WITHOUT ROWID tables.

Each of these tables is found and updated by its primary key alone (every upsert of a write
names the whole key), and nothing refers to a row by its rowid. With a rowid, SQLite keeps two
B-trees per table, the rows by rowid and the key's index pointing into them, so an upsert reads
and writes both; WITHOUT ROWID stores the rows in the key's own B-tree, one tree to search and
to dirty. On a store past its page cache that halves the pages an ingest batch touches.

SQLite cannot change this in place: each table is rebuilt from its own CREATE statement (as the
database holds it, so the columns are those of the previous revisions) with WITHOUT ROWID
appended, its rows copied, and its indexes recreated from their own statements. The copy takes
about a second per million rollup rows. PostgreSQL has no rowid: nothing changes there.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("rollup_daily", "sessions", "session_costs")
SUFFIX = " WITHOUT ROWID"


def _rebuild(table: str, *, rowid: bool) -> None:
    connection = op.get_bind()
    master = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL"
    rows = connection.execute(sa.text(master), {"t": table}).all()
    (create,) = [sql for kind, _name, sql in rows if kind == "table"]
    indexes = [sql for kind, _name, sql in rows if kind == "index"]
    body = create.rstrip().removesuffix(SUFFIX)
    if not rowid:
        body += SUFFIX
    # CREATE TABLE <name> (...): the statement's own name is the table's; the copy is named apart.
    head, rest = body.split("(", 1)
    assert head.split()[-1].strip('"') == table, head
    scratch = f"_{table}_rebuilt"
    op.execute(f"CREATE TABLE {scratch} ({rest}")
    op.execute(f"INSERT INTO {scratch} SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {scratch} RENAME TO {table}")
    for sql in indexes:
        op.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, rowid=True)
