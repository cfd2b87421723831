"""Writing a batch: events, rollups and sessions in one transaction.

Idempotency rests on the unique event_id. On PostgreSQL, where many processes
write at once, INSERT … ON CONFLICT DO NOTHING RETURNING tells each transaction
exactly which rows it inserted; only those are counted into the rollups. On
SQLite (whose executemany returns no rows) the writer holds the database's only
write lock from BEGIN IMMEDIATE on, so the rows it inserts get ids above the
largest before it: the row count says whether all went in, and when some did
not, the new ids say which did.

The SQL is written once per dialect and sent through the driver's executemany
(SQLite) or as one statement over arrays (PostgreSQL's unnest): building a
statement per row was most of the cost of a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Dialect, String, Table

from ..money import SPLIT, split
from .schema import DIMENSIONS, events, rollup_daily, session_bands, session_costs, session_starts, sessions
from .session_bands import banded
from .session_starts import moved, prior, transitions

Buckets = dict[tuple[Any, ...], list[int]]  # (day, *DIMENSIONS) → [events, unpriced, cost], None kept as None


@dataclass
class Written:
    accepted: int = 0
    duplicates: int = 0
    unpriced: int = 0
    cost_nanos: int = 0
    inserted: tuple[dict[str, Any], ...] = ()
    # What the inserted rows added to each daily rollup bucket (see add_to_rollups).
    buckets: Buckets = field(default_factory=dict)
    # The period-total keys (period, dimension, value) the batch counted into (Store.write, period_groups.py).
    period_keys: set[tuple[str, str, str]] = field(default_factory=set)


_COUNTS = ("events", "unpriced", "cost")
# As stored: the cost, a sum, is two columns (money.py).
_STORED_COUNTS = ("events", "unpriced", "cost_high", "cost")
_ROLLUP_KEYS = ("day", *DIMENSIONS)
_SESSION_COST_KEYS = ("session_id", "service", "agent")
_SESSION_COLUMNS = ("session_id", "user_id", "tier", "mode", "started_at", "ended_at", *_STORED_COUNTS)
_START_COLUMNS = ("day", "tier", "mode", "sessions", "cost_high", "cost")
_BAND_COLUMNS = ("day", "tier", "mode", "band", "sessions")


def _add_stored(t: str, percent: str) -> list[str]:
    """SET clauses that add excluded's counts to table `t`'s: the low parts' carry goes to the high part.

    Both lows are below 10^18, so their sum stays below 2^63; SET expressions read the row as it was.
    `percent` is the modulo operator as the driver's paramstyle writes it.
    """
    low = f"({t}.cost + excluded.cost)"
    return [
        f"events = {t}.events + excluded.events",
        f"unpriced = {t}.unpriced + excluded.unpriced",
        f"cost_high = {t}.cost_high + excluded.cost_high + {low} / {SPLIT}",
        f"cost = {low} {percent} {SPLIT}",
    ]


def _event_columns() -> tuple[str, ...]:
    return tuple(c.name for c in events.columns if c.name != "id")


class _Statements:
    """The batch statements of one dialect, with how to turn rows into their parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self.postgres = dialect.name == "postgresql"
        self.dialect = dialect
        self.quote = dialect.identifier_preparer.quote
        self.percent = "%%" if self.postgres else "%"  # psycopg's placeholders start with %
        self.event_columns = _event_columns()
        self.event_values = itemgetter(*self.event_columns)
        # Only a repeated event_id is skipped (OR IGNORE would also drop a row that breaks another constraint).
        conflict = "ON CONFLICT (event_id) DO NOTHING" + (" RETURNING event_id" if self.postgres else "")
        self.insert_events = self._insert(events, self.event_columns, conflict)
        # Two-argument min/max are scalar in SQLite; PostgreSQL spells them least/greatest.
        least, greatest = ("least", "greatest") if self.postgres else ("min", "max")
        t = self.quote(sessions.name)
        self.upsert_sessions = self._insert(
            sessions,
            _SESSION_COLUMNS,
            "ON CONFLICT (session_id) DO UPDATE SET "
            + ", ".join(
                [
                    *(f"{c} = coalesce({t}.{c}, excluded.{c})" for c in ("user_id", "tier", "mode")),
                    f"started_at = {least}({t}.started_at, excluded.started_at)",
                    f"ended_at = {greatest}({t}.ended_at, excluded.ended_at)",
                    *_add_stored(t, self.percent),
                ]
            ),
        )
        starts = self.quote(session_starts.name)
        self.add_starts = self._insert(
            session_starts,
            _START_COLUMNS,
            f"ON CONFLICT (day, tier, mode) DO UPDATE SET sessions = {starts}.sessions + excluded.sessions, "
            + ", ".join(_add_stored(starts, self.percent)[2:]),  # the cost's two columns, carried
        )
        bands = self.quote(session_bands.name)
        self.add_bands = self._insert(
            session_bands,
            _BAND_COLUMNS,
            f"ON CONFLICT (day, tier, mode, band) DO UPDATE SET sessions = {bands}.sessions + excluded.sessions",
        )
        self._processors: dict[tuple[str, tuple[str, ...]], list[Callable[[Any], Any] | None]] = {}
        self._add_counts: dict[str, str] = {}

    def _insert(self, table: Table, columns: Sequence[str], conflict: str) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        if self.postgres:
            # One statement over one array per column: a single round trip, parsed once.
            # Text as unbounded VARCHAR: an explicit cast to VARCHAR(n) would cut a longer value silently,
            # while the insert's own (assignment) cast into the column refuses it.
            arrays = ", ".join(f"%({c})b::{self._array_type(table.c[c].type)}[]" for c in columns)
            return f"INSERT INTO {self.quote(table.name)} ({names}) SELECT * FROM unnest({arrays}) {conflict}"
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {self.quote(table.name)} ({names}) VALUES ({marks}) {conflict}".rstrip()

    def _array_type(self, column_type: Any) -> str:
        return "VARCHAR" if isinstance(column_type, String) else str(column_type.compile(self.dialect))

    def add_counts(self, table: Table, keys: Sequence[str]) -> str:
        """The statement that adds (*keys, events, unpriced, cost_high, cost) rows into `table`'s counts (made once)."""
        found = self._add_counts.get(table.name)
        if found is None:
            t = self.quote(table.name)
            keys_sql = ", ".join(self.quote(k) for k in keys)
            sets = ", ".join(_add_stored(t, self.percent))
            found = self._insert(table, (*keys, *_STORED_COUNTS), f"ON CONFLICT ({keys_sql}) DO UPDATE SET {sets}")
            self._add_counts[table.name] = found
        return found

    def params(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
        """Rows (value tuples in `columns` order) as the driver takes them, through the columns' type processors.

        Works column by column (transpose, convert the few typed columns, transpose back), so
        the loops over a batch run in C.
        """
        key = (table.name, tuple(columns))
        processors = self._processors.get(key)
        if processors is None:
            processors = [_processor(self.dialect, table.c[c].type) for c in columns]
            self._processors[key] = processors
        by_column: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        for i, process in enumerate(processors):
            if process is not None:
                # Each distinct value once: a batch shares its ingest time and mostly its days.
                converted = {v: None if v is None else process(v) for v in set(by_column[i])}
                by_column[i] = list(map(converted.__getitem__, by_column[i]))
        if self.postgres:
            return {column: list(values) for column, values in zip(columns, by_column, strict=True)}
        return list(zip(*by_column, strict=True))


def _processor(dialect: Dialect, column_type: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for a column type, or a C-speed equivalent proven equal on samples.

    SQLite keeps dates and times as text; SQLAlchemy formats them in Python (%-formatting a
    dict per value), while isoformat writes the same text in C.
    """
    slow: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    if slow is None or dialect.name != "sqlite":
        return slow
    fast: Callable[[Any], Any]
    if isinstance(column_type, DateTime):
        samples: list[Any] = [datetime(2026, 11, 2, 10, 5, 7), datetime(2026, 1, 1, 0, 0, 0, 123), datetime(7, 3, 4)]
        fast = _iso_datetime
    elif isinstance(column_type, Date):
        samples = [date(2026, 11, 2), date(7, 3, 4)]
        fast = date.isoformat
    else:
        return slow
    return fast if all(fast(v) == slow(v) for v in samples) else slow


def _iso_datetime(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


_STATEMENTS: dict[tuple[type, str], _Statements] = {}


def _statements(connection: Connection) -> _Statements:
    dialect = connection.dialect
    key = (type(dialect), dialect.name)
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = _Statements(dialect)
    return found


def _execute(connection: Connection, sql: str, params: Any) -> Any:
    return connection.exec_driver_sql(sql, params)


def write_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> Written:
    """Insert `rows` (event column dicts) and count the new ones into rollups and sessions."""
    ids = list(map(_event_id, rows))
    if len(set(ids)) == len(ids):
        unique: Sequence[dict[str, Any]] = rows
    else:  # the first of each repeated id
        unique = list({i: row for i, row in reversed(list(zip(ids, rows, strict=True)))}.values())
    # A fixed order keeps concurrent PostgreSQL transactions from deadlocking on each other's keys.
    ordered = sorted(unique, key=_event_id)
    if not ordered:
        return Written(duplicates=len(rows))
    sql = _statements(connection)
    columns = sql.event_columns
    if sql.postgres:
        values = list(map(sql.event_values, ordered))
        result = _execute(connection, sql.insert_events, sql.params(events, columns, values))
        inserted_ids = {r[0] for r in result}
        new = tuple(r for r in ordered if r["event_id"] in inserted_ids)
    else:
        # This transaction holds SQLite's only write lock, so the rows it inserts get ids above the
        # largest one now: when fewer rows went in than were sent, those ids say which.
        (top,) = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM events").one()
        values = list(map(sql.event_values, ordered))
        inserted = _execute(connection, sql.insert_events, sql.params(events, columns, values)).rowcount
        if inserted == len(ordered):
            new = tuple(ordered)
        else:
            fresh = {r[0] for r in connection.exec_driver_sql("SELECT event_id FROM events WHERE id > ?", (top,))}
            new = tuple(r for r in ordered if r["event_id"] in fresh)
    written = Written(accepted=len(new), duplicates=len(rows) - len(new), inserted=new)
    if new:
        written.buckets = add_to_rollups(connection, new)
        written.unpriced = sum(b[1] for b in written.buckets.values())
        written.cost_nanos = sum(b[2] for b in written.buckets.values())
    return written


_event_id = itemgetter("event_id")


def add_to_rollups(connection: Connection, rows: Sequence[dict[str, Any]], sign: int = 1) -> Buckets:
    """Count `rows` into the daily rollups, sessions and session costs (sign=-1 takes them out).

    Returns the rollup buckets it counted (signed): everything else kept per day and dimension
    (the period totals of alerts and budgets) is summed from them, not from the rows again.
    """
    daily: Buckets = {}
    per_session: dict[str, dict[str, Any]] = {}
    per_service: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        cost = row["cost"]
        key = _rollup_key(row)
        bucket = daily.get(key)
        if bucket is None:
            daily[key] = bucket = [0, 0, 0]
        bucket[0] += 1
        if cost is None:
            bucket[1] += 1
        else:
            bucket[2] += cost
        session_id = row["session_id"]
        if session_id is None:
            continue
        ts = row["ts"]
        s = per_session.get(session_id)
        if s is None:
            per_session[session_id] = s = {
                "session_id": session_id, "user_id": row["user_id"], "tier": row["tier"], "mode": row["mode"],
                "started_at": ts, "ended_at": ts, "events": 0, "unpriced": 0, "cost": 0,
            }  # fmt: skip
        else:
            if ts < s["started_at"]:
                s["started_at"] = ts
            elif ts > s["ended_at"]:
                s["ended_at"] = ts
            # A session's user, tier and mode: the first event that names them.
            if not s["user_id"]:
                s["user_id"] = row["user_id"]
            if not s["tier"]:
                s["tier"] = row["tier"]
            if not s["mode"]:
                s["mode"] = row["mode"]
        s["events"] += 1
        skey = (session_id, row["service"], row["agent"] or "")
        sb = per_service.get(skey)
        if sb is None:
            per_service[skey] = sb = [0, 0, 0]
        sb[0] += 1
        if cost is None:
            s["unpriced"] += 1
            sb[1] += 1
        else:
            s["cost"] += cost
            sb[2] += cost
    if sign != 1:
        for counts in (*daily.values(), *per_service.values()):
            counts[:] = [sign * c for c in counts]
        for s in per_session.values():
            for c in _COUNTS:
                s[c] *= sign

    # Sorted, so concurrent PostgreSQL transactions lock the same keys in the same order.
    add_counts(connection, rollup_daily, _ROLLUP_KEYS, _with_blanks(daily))
    if per_session:
        _upsert_sessions(connection, [per_session[k] for k in sorted(per_session)])
        costs = [(*key, *v) for key, v in sorted(per_service.items())]
        add_counts(connection, session_costs, _SESSION_COST_KEYS, costs)
    return daily


# Dimensions are read as they are and made '' (the rollups' "none") once per distinct key, not per row.
_rollup_key = itemgetter("day", *DIMENSIONS)


def _with_blanks(counts: dict[tuple[Any, ...], list[int]]) -> list[tuple[Any, ...]]:
    """Rollup rows with None dimensions as '', merged where that makes two keys one, sorted."""
    merged: dict[tuple[Any, ...], list[int]] = {}
    for key, values in counts.items():
        if None in key:
            key = tuple("" if part is None else part for part in key)
        found = merged.get(key)
        if found is None:
            merged[key] = list(values)
        else:
            for i, value in enumerate(values):
                found[i] += value
    return [(*key, *values) for key, values in sorted(merged.items())]


def add_counts(connection: Connection, table: Table, keys: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Add (*keys, events, unpriced, cost) rows to a table of counts (rollups, period totals): one statement
    per dialect, written once, over the whole batch. Sort `rows` first (PostgreSQL lock order).

    `cost` is any int of nano-dollars (signed: a reprice takes costs out); it is stored as its two
    columns (money.split)."""
    sql = _statements(connection)
    stored = [(*row[:-1], *split(row[-1])) for row in rows]
    _upsert(connection, sql, sql.add_counts(table, keys), table, (*keys, *_STORED_COUNTS), stored)


def _upsert(
    connection: Connection, sql: _Statements, statement: str, table: Table, columns: Sequence[str], rows: list[Any]
) -> None:
    if rows:
        _execute(connection, statement, sql.params(table, columns, rows))


def _upsert_sessions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add `rows` (per-session counts, sorted by id) to the sessions, to session_starts (each session's
    cost where it counts, moved between its rows when its start day, tier, mode or having events changes)
    and to session_bands (each session counted in the band of its cost, moved as its cost grows)."""
    sql = _statements(connection)
    # Where each session counted before the batch and counts after it: what both kept counts move by.
    placed = list(transitions(prior(connection, rows), rows))
    values = [(*(r[c] for c in _SESSION_COLUMNS[:-2]), *split(r["cost"])) for r in rows]
    _upsert(connection, sql, sql.upsert_sessions, sessions, _SESSION_COLUMNS, values)
    starts = [(*change[:-1], *split(change[-1])) for change in moved(placed)]
    _upsert(connection, sql, sql.add_starts, session_starts, _START_COLUMNS, starts)
    _upsert(connection, sql, sql.add_bands, session_bands, _BAND_COLUMNS, banded(placed))


def touch_session(connection: Connection, session_id: str, at: datetime, fields: dict[str, Any]) -> None:
    """Open or extend a session without an event (a session's start and end are times too)."""
    _upsert_sessions(
        connection,
        [
            {
                "session_id": session_id,
                "user_id": fields.get("user_id"),
                "tier": fields.get("tier"),
                "mode": fields.get("mode"),
                "started_at": at,
                "ended_at": at,
                "events": 0,
                "unpriced": 0,
                "cost": 0,
            }
        ],
    )
