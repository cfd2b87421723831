"""Migrations bring an empty database, and one at every earlier revision, to head."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from costledger import Ledger
from costledger.cli import app
from costledger.store import Store, migrate
from costledger.store.check import check_store
from costledger.store.schema import metadata
from costledger.store.writer import write_events

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
        store.write([OLD_EVENT])
    finally:
        store.close()
    # Opening the ledger upgrades it on its own, with the old event and its totals intact.
    with Ledger(store_url) as ledger:
        assert migrate.current(ledger.store.engine) == migrate.head()
        assert set(metadata.tables) <= _tables(ledger.store)
        assert ledger.total_usd() == Decimal("0.0043")
        assert ledger.record("deepgram", "nova-3", audio_seconds=60, event_id="from-the-past").duplicates == 1
        assert check_store(ledger.store) == []


def test_every_revision_is_listed_oldest_first() -> None:
    revisions = migrate.revisions()
    assert revisions[0] == "0001" and revisions[-1] == migrate.head()
    assert len(set(revisions)) == len(revisions)


def test_cli_db_upgrade(tmp_path: object) -> None:
    db = f"{tmp_path}/cli.db"
    store = Store(db, upgrade=False)
    migrate.upgrade(store.engine, "0001")
    with store.engine.begin() as connection:
        write_events(connection, [OLD_EVENT])
    store.close()
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"0001 → {migrate.head()}"
    again = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert again.output.strip() == f"already at {migrate.head()}"
