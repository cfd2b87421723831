"""The tables. Events are append-only; rollups and sessions are kept in the same
transaction as the events they count, so totals never disagree with them.

Money columns hold whole nano-dollars (see money.py): an event's cost is one column, a
stored sum two (`cost` below 10^18 and `cost_high`, its 10^18s), so no sum overflows 64 bits.
Dimension columns of the rollups hold '' for "none" so they can be part of a primary key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    literal_column,
    text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def sum_columns(name: str = "cost") -> tuple[Column[int], Column[int]]:
    """A stored sum of nano-dollars: `name` (below 10^18) and `name`_high (its 10^18s), see money.py."""
    return (
        Column(f"{name}_high", BigInteger(), nullable=False, server_default=text("0")),
        Column(name, BigInteger(), nullable=False),
    )


events = Table(
    "events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("ts", DateTime(), nullable=False),  # UTC
    Column("day", Date(), nullable=False),  # UTC day of ts
    Column("service", String(64), nullable=False),
    Column("model", String(256)),
    Column("operation", String(64)),
    Column("session_id", String(256)),
    Column("user_id", String(256)),
    Column("tier", String(256)),
    Column("agent", String(256)),
    Column("mode", String(256)),
    Column("endpoint", String(256)),
    Column("usage", Text(), nullable=False),  # JSON
    Column("service_tier", String(64)),  # the provider's service tier the event was priced at; NULL = standard
    Column("tags", Text(), nullable=False),  # JSON
    Column("meta", Text(), nullable=False),  # JSON: the event's metadata, as given
    Column("cost", BigInteger()),  # nano-USD; NULL = unpriced
    Column("cost_source", String(16)),  # catalog | reported | NULL
    Column("price_ref", String(300)),  # which entry priced it
    Column("unpriced_reason", Text()),
    Column("recorded_cost", BigInteger()),  # nano-USD a previous tracker recorded (imports)
    Column("ingested_at", DateTime(), nullable=False),
)
Index("ix_events_ts", events.c.ts)
Index("ix_events_session", events.c.session_id)
# Payments by time (service "stripe", margins/figures.py): a row per payment, not per event (0009). The
# constant is written out: SQLite uses a partial index only for a query that states its condition.
PAYMENTS: ColumnElement[str] = literal_column("'stripe'")

# PostgreSQL's options of the indexes below, put on them when a PostgreSQL database creates them:
# stated in Index(), they would import SQLAlchemy's PostgreSQL dialect (to check their names) into
# every command on a SQLite ledger, ~75 ms of each. (SQLite's are stated: its dialect is loaded anyway.)
_POSTGRESQL_OPTIONS: list[tuple[Index, dict[str, Any]]] = []


def _postgresql_options(index: Index, **options: Any) -> None:
    if not event.contains(index.table, "before_create", _put_postgresql_options):
        event.listen(index.table, "before_create", _put_postgresql_options)
    _POSTGRESQL_OPTIONS.append((index, options))


def _put_postgresql_options(table: Table, connection: Any, **_: Any) -> None:
    if connection.dialect.name == "postgresql":
        for index, options in _POSTGRESQL_OPTIONS:
            if index.table is table:
                index.dialect_kwargs.update(options)


_postgresql_options(
    Index("ix_events_payments", events.c.ts, sqlite_where=events.c.service == PAYMENTS),
    postgresql_where=events.c.service == PAYMENTS,
)
# The events of no session by day (payments, batch jobs): a range's totals grouped by session read them
# beside the sessions table (session_groups.py) instead of grouping every event of the range (0015).
# SQLite's condition has a unary plus, and so must a query's (NO_SESSION): a plain `session_id IS NULL`
# makes SQLite walk ix_events_session's NULL entries instead, every event of no session ever recorded.
NO_SESSION = {"sqlite": literal_column("+session_id IS NULL"), "postgresql": events.c.session_id.is_(None)}
_postgresql_options(
    Index("ix_events_no_session", events.c.day, sqlite_where=NO_SESSION["sqlite"]),
    postgresql_where=NO_SESSION["postgresql"],
)

DIMENSIONS = ("service", "model", "agent", "user_id", "tier", "mode")

rollup_daily = Table(
    "rollup_daily",
    metadata,
    Column("day", Date(), primary_key=True),
    *(Column(name, String(256), primary_key=True) for name in DIMENSIONS),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    *sum_columns(),
    sqlite_with_rowid=False,  # found by its key alone: one B-tree, not rows plus a key index (0007)
)

# Totals per period ('2026-11-23' or '2026-11') × a pair of dimensions (period_groups.PAIRS, named
# "service,model"), '' for "none": what a total grouped or filtered by two dimensions reads (service ×
# model on the prices page, user × tier on the users page). Beside the single-dimension period totals
# (alerts_schema.period_totals) they answer a range's totals from its months and leftover days, in
# rows that grow with the distinct values in the range, not with the traffic. Kept with the events.
period_pairs = Table(
    "period_pairs",
    metadata,
    Column("pair", String(32), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("a", String(256), primary_key=True),
    Column("b", String(256), primary_key=True),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    *sum_columns(),
    sqlite_with_rowid=False,  # read and written by its key only: one B-tree
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(256), primary_key=True),
    Column("user_id", String(256)),
    Column("tier", String(256)),
    Column("mode", String(256)),
    Column("started_at", DateTime(), nullable=False),
    Column("ended_at", DateTime(), nullable=False),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    *sum_columns(),
    sqlite_with_rowid=False,
)
Index("ix_sessions_started", sessions.c.started_at)
# One user's sessions (`/sessions?user=`, `/v1/sessions?user=`, a user's counts and fixed shares): the
# user's rows in start order, not every session of the range or of all time (0011).
Index("ix_sessions_user", sessions.c.user_id, sessions.c.started_at)
# The sessions with unpriced events (`/sessions?unpriced=true`, the overview's unpriced card's link), in
# start order: a few in a hundred sessions, not every session of the range (0014).
_postgresql_options(
    Index("ix_sessions_unpriced", sessions.c.started_at, sqlite_where=sessions.c.unpriced > 0),
    postgresql_where=sessions.c.unpriced > 0,
)
# The sessions still going at an instant (ended at or after it), with their start: a range's sessions that
# started before it and ran into it (session_groups.py), found among those that end after its first day
# instead of every session that started before it (0015).
Index("ix_sessions_ended", sessions.c.ended_at, sessions.c.started_at)
# The sessions without events yet (opened by `ledger.session()`, nothing recorded): a session listing's count
# is the kept counts of the sessions with events (session_starts) plus these few, not a pass over every
# session of the range (0016). The 0 is written out, in the index and in the query (EMPTY), so that SQLite
# and PostgreSQL's generic plan may use it.
EMPTY: ColumnElement[bool] = sessions.c.events == literal_column("0")
_postgresql_options(Index("ix_sessions_empty", sessions.c.started_at, sqlite_where=EMPTY), postgresql_where=EMPTY)


def session_month(dialect: str) -> ColumnElement[Any]:
    """The month a session started in, as the month indexes below hold it (migration 0004).

    SQLite keeps a DateTime as text 'YYYY-MM-DD HH:MM:SS.ffffff', so the month is its first
    seven characters; PostgreSQL's date_trunc is immutable on a timestamp without time zone,
    so it can be indexed. The constants are written out, not bound: SQLite uses an index on
    an expression only for the very same expression.
    """
    if dialect == "postgresql":
        return func.date_trunc(literal_column("'month'"), sessions.c.started_at)
    return func.substr(sessions.c.started_at, literal_column("1"), literal_column("7"))


# The overview's distinct users per tier of a month (one index seek per user), answered from this index
# alone: only sessions with events count, so it holds only those. PostgreSQL plans an index-only scan on
# an expression only when the expression's column is in the index too, hence INCLUDE (started_at). (Its
# sibling by month, mode and cost, for the month's percentiles, gave way to session_bands in 0013.)
_keys = [sessions.c.tier, sessions.c.user_id]
Index("ix_sessions_month_tier_user", session_month("sqlite"), *_keys, sqlite_where=sessions.c.events > 0).ddl_if(
    dialect="sqlite"
)
_postgresql_options(
    Index("ix_sessions_month_tier_user", session_month("postgresql"), *_keys).ddl_if(dialect="postgresql"),
    postgresql_where=sessions.c.events > 0,
    postgresql_include=["started_at"],
)

# How many sessions with events started each UTC day, per tier and mode ('' for none), and their cost:
# a range's session counts and its sessions' metered cost (the per-session extra costs, the fixed costs'
# shares per day, the cost cards) read from a row per day, tier and mode instead of from the range's
# sessions. The writer moves a session between rows when its first event, tier or mode changes and adds
# its cost as it grows (store/session_starts.py), in the sessions' own transaction; `db check` recounts
# it from the sessions table (0010, the cost 0012).
session_starts = Table(
    "session_starts",
    metadata,
    Column("day", Date(), primary_key=True),
    Column("tier", String(256), primary_key=True),
    Column("mode", String(256), primary_key=True),
    Column("sessions", BigInteger(), nullable=False),
    *sum_columns(),  # what those sessions cost so far (0012)
    sqlite_with_rowid=False,  # read and written by its key only: one B-tree
)

# How many sessions with events started each UTC day per tier and mode ('' for none) hold a cost in each
# band (store/session_bands.py: contiguous ranges of nano-dollars, 1-10% wide): a range's exact
# nearest-rank percentiles of session cost by mode (or by tier, for the plans at their limit) are found
# from a row per day, tier, mode and band, then one band's sessions read in cost order through
# ix_sessions_mode_cost, instead of every session of the range ranked in Python. Kept by the writer with
# session_starts; `db check` recounts it (0013; per tier since 0017).
session_bands = Table(
    "session_bands",
    metadata,
    Column("day", Date(), primary_key=True),
    Column("tier", String(256), primary_key=True),
    Column("mode", String(256), primary_key=True),
    Column("band", Integer(), primary_key=True),
    Column("sessions", BigInteger(), nullable=False),
    sqlite_with_rowid=False,  # read and written by its key only: one B-tree
)
# One band's sessions of a mode, in cost order, with their start (to keep those of the range) and their
# events in the index: SQLite (3.40) reads a partial index alone only when it holds the columns of its
# own WHERE too; PostgreSQL takes them as INCLUDE.
Index("ix_sessions_mode_cost", sessions.c.mode, sessions.c.cost_high, sessions.c.cost, sessions.c.started_at,
      sessions.c.events, sqlite_where=sessions.c.events > 0).ddl_if(dialect="sqlite")  # fmt: skip
_postgresql_options(
    Index("ix_sessions_mode_cost", sessions.c.mode, sessions.c.cost_high, sessions.c.cost).ddl_if(dialect="postgresql"),
    postgresql_where=sessions.c.events > 0,
    postgresql_include=["started_at", "events"],
)

session_costs = Table(
    "session_costs",
    metadata,
    Column("session_id", String(256), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("agent", String(256), primary_key=True),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    *sum_columns(),
    sqlite_with_rowid=False,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("scope", String(16), nullable=False),  # ingest | admin
    Column("prefix", String(16), nullable=False),  # shown in `keys list`; the key itself is never stored
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime()),
    Column("last_used_at", DateTime()),
)

# A dashboard sign-in: the cookie's nonce, hashed (the database alone cannot make a cookie), its expiry as
# issued, and when signing out revoked it.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("key_id", BigInteger(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime()),
)

# One row `/healthz` rewrites (at most every few seconds): a write that fails says the storage cannot write.
health_probe = Table(
    "health_probe",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("written_at", DateTime(), nullable=False),
)

reprice_audit = Table(
    "reprice_audit",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("since", DateTime()),
    Column("until", DateTime()),
    Column("service", String(64)),
    Column("model", String(256)),
    Column("dry_run", Boolean(), nullable=False),
    Column("events", BigInteger(), nullable=False),
    Column("changed", BigInteger(), nullable=False),
    *sum_columns("old_cost"),
    *sum_columns("new_cost"),
    Column("unpriced_before", BigInteger(), nullable=False),
    Column("unpriced_after", BigInteger(), nullable=False),
    Column("note", Text()),
)
