"""The tables. Events are append-only; rollups and sessions are kept in the same
transaction as the events they count, so totals never disagree with them.

Money columns hold whole nano-dollars (see money.py). Dimension columns of the
rollups hold '' for "none" so they can be part of a primary key.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer(), "sqlite")

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

DIMENSIONS = ("service", "model", "agent", "user_id", "tier", "mode")

rollup_daily = Table(
    "rollup_daily",
    metadata,
    Column("day", Date(), primary_key=True),
    *(Column(name, String(256), primary_key=True) for name in DIMENSIONS),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    Column("cost", BigInteger(), nullable=False),
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
    Column("cost", BigInteger(), nullable=False),
)
Index("ix_sessions_started", sessions.c.started_at)

session_costs = Table(
    "session_costs",
    metadata,
    Column("session_id", String(256), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("agent", String(256), primary_key=True),
    Column("events", BigInteger(), nullable=False),
    Column("unpriced", BigInteger(), nullable=False),
    Column("cost", BigInteger(), nullable=False),
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
    Column("old_cost", BigInteger(), nullable=False),
    Column("new_cost", BigInteger(), nullable=False),
    Column("unpriced_before", BigInteger(), nullable=False),
    Column("unpriced_after", BigInteger(), nullable=False),
    Column("note", Text()),
)
