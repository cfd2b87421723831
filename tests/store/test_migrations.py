"""Migrations bring an empty database, and one at every earlier revision, to head."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.store import Store, migrate
from costledger.store.check import check_store
from costledger.store.period_groups import count_periods
from costledger.store.schema import metadata

# An event as revision 0001's tables already hold it, written with its rollups.
OLD_EVENT = {
    "event_id": "from-the-past", "ts": dt.datetime(2026, 1, 5, 10), "day": dt.date(2026, 1, 5),
    "service": "deepgram", "model": "nova-3", "operation": None, "session_id": "old-room", "user_id": "u0",
    "tier": None, "agent": None, "mode": None, "endpoint": None, "usage": '{"audio_seconds": 60}', "tags": "{}",
    "meta": "{}", "cost": 4_300_000, "cost_source": "catalog", "price_ref": "test", "unpriced_reason": None,
    "recorded_cost": None, "ingested_at": dt.datetime(2026, 1, 5, 10),
}  # fmt: skip


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names()) - {"alembic_version"}


def _write_old_event(connection: Connection) -> None:
    """OLD_EVENT with its rollup, session, session cost and (from 0003) period totals, as the tables of an
    earlier revision hold them: one cost column per sum (today's writer also writes its high part)."""
    e = OLD_EVENT
    connection.execute(text(f"INSERT INTO events ({', '.join(e)}) VALUES ({', '.join(':' + k for k in e)})"), e)
    counts = {"events": 1, "unpriced": 0, "cost": e["cost"]}
    rows = {
        "rollup_daily": {"day": e["day"], "service": e["service"], "model": e["model"], "agent": "",
                         "user_id": e["user_id"], "tier": "", "mode": ""},
        "sessions": {"session_id": e["session_id"], "user_id": e["user_id"], "tier": None, "mode": None,
                     "started_at": e["ts"], "ended_at": e["ts"]},
        "session_costs": {"session_id": e["session_id"], "service": e["service"], "agent": ""},
    }  # fmt: skip
    tables = inspect(connection).get_table_names()
    if "period_pairs" in tables:  # 0008 on: the period totals of every dimension and the pair totals
        key = (e["day"], *(e[d] for d in ("service", "model", "agent", "user_id", "tier", "mode")))
        count_periods(connection, {key: [1, 0, e["cost"]]})
    elif "period_totals" in tables:
        for period in (e["day"].isoformat(), e["day"].isoformat()[:7]):
            for dimension, value in (("", ""), ("service", e["service"]), ("user_id", e["user_id"])):
                rows[f"period_totals {period} {dimension}"] = {"period": period, "dimension": dimension,
                                                               "value": value}  # fmt: skip
    for name, keys in rows.items():
        row = {**keys, **counts}
        table = name.split()[0]
        connection.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"),
                           row)  # fmt: skip
    if "session_starts" in tables:  # 0010 on: the session counted on the day it started (0012 on: its cost too)
        costs = {c["name"] for c in inspect(connection).get_columns("session_starts")} >= {"cost", "cost_high"}
        columns, values = (
            ("day, tier, mode, sessions, cost_high, cost", ":day, '', '', 1, 0, :cost")
            if costs
            else ("day, tier, mode, sessions", ":day, '', '', 1")
        )
        connection.execute(text(f"INSERT INTO session_starts ({columns}) VALUES ({values})"),
                           {"day": e["day"], "cost": e["cost"]})  # fmt: skip
    if "session_bands" in tables:  # 0013 on: and in the band of its cost (4,300,000 nano-dollars: 7 digits, 43)
        tiers = "tier" in {c["name"] for c in inspect(connection).get_columns("session_bands")}  # 0017 on: per tier
        columns, values = (
            ("day, tier, mode, band, sessions", ":day, '', '', 743, 1")
            if tiers
            else ("day, mode, band, sessions", ":day, '', 743, 1")
        )
        connection.execute(text(f"INSERT INTO session_bands ({columns}) VALUES ({values})"),
                           {"day": e["day"]})  # fmt: skip


def test_empty_database_migrates_to_head(store_url: str) -> None:
    store = Store(store_url, upgrade=False)
    try:
        assert migrate.current(store.engine) is None
        migrate.upgrade(store.engine)
        assert migrate.current(store.engine) == migrate.head()
        assert set(metadata.tables) <= _tables(store)
        migrate.upgrade(store.engine)  # again: nothing to do, no error
        assert migrate.current(store.engine) == migrate.head()
    finally:
        store.close()


@pytest.mark.parametrize("revision", migrate.revisions()[:-1])
def test_database_at_an_earlier_revision_upgrades_keeping_its_events(store_url: str, revision: str) -> None:
    store = Store(store_url, upgrade=False)
    try:
        migrate.upgrade(store.engine, revision)
        assert migrate.current(store.engine) == revision
        with store.engine.begin() as connection:
            _write_old_event(connection)
    finally:
        store.close()
    # Opening the ledger upgrades it on its own, with the old event and its totals intact.
    with Ledger(store_url) as ledger:
        assert migrate.current(ledger.store.engine) == migrate.head()
        assert set(metadata.tables) <= _tables(ledger.store)
        assert ledger.total_usd() == Decimal("0.0043")
        assert ledger.record("deepgram", "nova-3", audio_seconds=60, event_id="from-the-past").duplicates == 1
        assert check_store(ledger.store) == []
        # The old session, read back through the month indexes of 0004.
        (mode,) = ledger.overview(dt.date(2026, 1, 5)).by_mode
        assert (mode.mode, mode.sessions, mode.p50_usd, mode.p90_usd) == (None, 1, Decimal("0.0043"), Decimal("0.0043"))


def _session_indexes(connection: Connection) -> dict[str, str]:
    """The sessions' and events' indexes as the database states them (PostgreSQL's without the schema name)."""
    if connection.dialect.name == "postgresql":
        query = (
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename IN ('sessions', 'events') AND schemaname = current_schema()"
        )
        rows = connection.execute(text(query))
        return {name: re.sub(r" ON \S+\.(sessions|events) ", r" ON \1 ", sql) for name, sql in rows}
    query = (
        "SELECT name, sql FROM sqlite_master"
        " WHERE type = 'index' AND tbl_name IN ('sessions', 'events') AND sql IS NOT NULL"
    )
    return {name: " ".join(sql.split()) for name, sql in connection.execute(text(query))}


def test_migrations_create_the_session_indexes_schema_declares(store_url: str, tmp_path: Path) -> None:
    """A database made by the migrations and one made from schema.py have the same sessions and events
    indexes (0004's month indexes and 0009's payments among them), so the overview reads either the same way."""
    store = Store(store_url)
    try:
        with store.engine.connect() as connection:
            migrated = _session_indexes(connection)
            if store.dialect == "postgresql":
                # DDL is transactional there: the declared tables go to a scratch schema, then are rolled back.
                name = f"declared_{uuid.uuid4().hex[:10]}"
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
                connection.execute(text(f'SET LOCAL search_path TO "{name}"'))
                metadata.create_all(connection)
                declared = _session_indexes(connection)
                connection.rollback()
    finally:
        store.close()
    if store.dialect == "sqlite":
        fresh = Store(str(tmp_path / "declared.db"), upgrade=False)
        try:
            metadata.create_all(fresh.engine)
            with fresh.engine.connect() as connection:
                declared = _session_indexes(connection)
        finally:
            fresh.close()
    assert {"ix_sessions_started", "ix_sessions_mode_cost", "ix_sessions_month_tier_user"} <= set(migrated)
    assert "ix_sessions_month_mode_cost" not in migrated  # given way to session_bands (0013)
    partial = ("ix_sessions_mode_cost", "ix_sessions_month_tier_user", "ix_events_payments")
    assert all("WHERE" in migrated[name] for name in partial)
    if store.dialect == "postgresql":  # PostgreSQL's options are put on the declared indexes as it creates them
        assert "INCLUDE (started_at, events)" in migrated["ix_sessions_mode_cost"]
        assert "INCLUDE (started_at)" in migrated["ix_sessions_month_tier_user"]
    assert migrated == declared


def test_every_revision_is_listed_oldest_first() -> None:
    revisions = migrate.revisions()
    assert revisions[0] == "0001" and revisions[-1] == migrate.head()
    assert len(set(revisions)) == len(revisions)


def test_cli_db_upgrade(tmp_path: object) -> None:
    db = f"{tmp_path}/cli.db"
    store = Store(db, upgrade=False)
    migrate.upgrade(store.engine, "0001")
    with store.engine.begin() as connection:
        _write_old_event(connection)
    store.close()
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"0001 → {migrate.head()}"
    again = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert again.output.strip() == f"already at {migrate.head()}"


def test_a_current_ledger_opens_without_alembic_because_files_are_named_by_revision() -> None:
    # Store() trusts the numbered file names for the head (no Alembic import on every command):
    # each migration's revision id must be its file's number.
    versions = sorted((migrate.MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    for path in versions:
        assert re.search(rf'^revision = "{path.name[:4]}"$', path.read_text(encoding="utf-8"), re.M), path.name
    assert migrate.numbered_head() == migrate.head() == versions[-1].name[:4]


def test_opening_a_current_sqlite_ledger_does_not_import_alembic_nor_postgresql(tmp_path: Path) -> None:
    import subprocess
    import sys

    Store(str(tmp_path / "l.db")).close()
    path = str(tmp_path / "l.db")
    code = (
        f"import sys; from costledger.store import Store; Store({path!r}).totals(['service']);"
        " print('alembic' in sys.modules, 'sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def _rowid_tables(connection: Connection) -> dict[str, bool]:
    """SQLite: each rebuilt table → whether it still has a rowid."""
    rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
    return {name: not sql.rstrip().endswith("WITHOUT ROWID") for name, sql in rows if name in REBUILT}


REBUILT = ("rollup_daily", "sessions", "session_costs")


def _indexes(connection: Connection) -> set[str]:
    query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({})"
    names = ", ".join(f"'{t}'" for t in REBUILT)
    return {" ".join(sql.split()) for (sql,) in connection.execute(text(query.format(names)))}


def test_0007_rebuilds_the_keyed_tables_without_rowid_keeping_rows_and_indexes(tmp_path: Path) -> None:
    db = str(tmp_path / "rowid.db")
    store = Store(db, upgrade=False)
    try:
        migrate.upgrade(store.engine, "0006")
        with store.engine.begin() as connection:
            _write_old_event(connection)
        with store.engine.connect() as connection:
            assert _rowid_tables(connection) == dict.fromkeys(REBUILT, True)
            before_indexes = _indexes(connection)
            before = {t: connection.execute(text(f"SELECT * FROM {t}")).all() for t in REBUILT}
        migrate.upgrade(store.engine, "0007")
        with store.engine.connect() as connection:
            assert _rowid_tables(connection) == dict.fromkeys(REBUILT, False)
            assert _indexes(connection) == before_indexes
            assert {t: connection.execute(text(f"SELECT * FROM {t}")).all() for t in REBUILT} == before
        # The declared tables are the same: a store made from schema.py has no rowid on them either.
        fresh = Store(str(tmp_path / "declared.db"), upgrade=False)
        try:
            metadata.create_all(fresh.engine)
            with fresh.engine.connect() as connection:
                assert _rowid_tables(connection) == dict.fromkeys(REBUILT, False)
        finally:
            fresh.close()
        from alembic import command

        from costledger.store.migrate import _config

        with store.engine.begin() as connection:
            command.downgrade(_config(connection), "0006")  # type: ignore[arg-type]
        with store.engine.connect() as connection:
            assert _rowid_tables(connection) == dict.fromkeys(REBUILT, True)
            assert {t: connection.execute(text(f"SELECT * FROM {t}")).all() for t in REBUILT} == before
    finally:
        store.close()
    with Ledger(db) as ledger:  # and back up to head, through the ledger, with the totals intact
        assert ledger.total_usd() == Decimal("0.0043")
        assert check_store(ledger.store) == []
