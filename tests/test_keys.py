"""API keys: random, stored hashed, verified, revoked; the CLI prints a key once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from costledger.cli import app
from costledger.keys import KeyVerifier, create_key, ensure_admin_key, hash_key, list_keys, revoke_key
from costledger.store import Store
from costledger.store.schema import api_keys


@pytest.fixture
def store(db_path: Path) -> Store:
    opened = Store(str(db_path))
    yield opened  # type: ignore[misc]
    opened.close()


def test_a_key_is_random_scoped_and_only_its_hash_is_stored(store: Store) -> None:
    key, stored = create_key(store, "ingest", "agent fleet")
    other, _ = create_key(store, "admin", "ops")
    assert key.startswith("cl_ingest_") and other.startswith("cl_admin_") and len(key) > 40
    assert stored.prefix == key[:16] and stored.scope == "ingest" and stored.active
    with store.engine.connect() as connection:
        rows = connection.execute(select(api_keys)).all()
    everything = json.dumps([list(map(str, r)) for r in rows])
    assert key not in everything and other not in everything
    assert hash_key(key) in everything


def test_verify_knows_active_revoked_and_unknown_keys(store: Store) -> None:
    key, stored = create_key(store, "ingest", "x")
    verifier = KeyVerifier(store)
    found = verifier.verify(key)
    assert found is not None and found.may("ingest") and not found.may("admin")
    assert verifier.verify(key + "x") is None and verifier.verify("") is None and verifier.verify(None) is None
    assert revoke_key(store, str(stored.id)) is not None
    revoked = verifier.verify(key)
    assert revoked is not None and not revoked.active and not revoked.may("ingest")
    assert revoke_key(store, str(stored.id)) is None  # already revoked


def test_admin_keys_may_ingest_and_last_use_is_recorded(store: Store) -> None:
    key, _ = create_key(store, "admin", "ops")
    found = KeyVerifier(store).verify(key)
    assert found is not None and found.may("ingest") and found.may("admin")
    assert list_keys(store)[0].last_used_at is not None


def test_revoke_by_prefix_refuses_an_ambiguous_prefix(store: Store) -> None:
    create_key(store, "admin", "one")
    create_key(store, "admin", "two")
    with pytest.raises(ValueError, match="matches 2 keys"):
        revoke_key(store, "cl_admin_")


def test_the_environment_bootstraps_one_admin_key_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLEDGER_ADMIN_KEY", "bootstrap-secret-0123456789")
    first = ensure_admin_key(store)
    again = ensure_admin_key(store)
    assert first is not None and again is not None and first.id == again.id and first.scope == "admin"
    assert len(list_keys(store)) == 1
    revoke_key(store, str(first.id))
    still = ensure_admin_key(store)
    assert still is not None and not still.active  # a revoked bootstrap key is not revived by a restart
    monkeypatch.setenv("COSTLEDGER_ADMIN_KEY", "short")
    with pytest.raises(ValueError, match="at least 16"):
        ensure_admin_key(store)


def test_the_cli_creates_lists_and_revokes_keys(db_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--scope", "ingest", "--name", "fleet", "--db", str(db_path)])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("cl_ingest_")
    listed = runner.invoke(app, ["keys", "list", "--json", "--db", str(db_path)])
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "fleet" and row["prefix"] == key[:16] and row["revoked_at"] is None
    assert key not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", row["prefix"], "--db", str(db_path)])
    assert revoked.exit_code == 0 and "revoked ingest key" in revoked.stdout
    assert runner.invoke(app, ["keys", "revoke", row["prefix"], "--db", str(db_path)]).exit_code == 1
    bad = runner.invoke(app, ["keys", "create", "--scope", "root", "--name", "x", "--db", str(db_path)])
    assert bad.exit_code == 2
