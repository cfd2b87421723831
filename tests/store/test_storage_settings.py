"""[storage]: a SQLite ledger's page cache and memory map, applied on every real connection, bad values refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection

from costledger import Ledger
from costledger.config import parse_config
from costledger.errors import ConfigError
from costledger.storage import StorageSettings
from costledger.store import Store

MB = 1024 * 1024


def _sizes(connection: Connection) -> tuple[int, ...]:
    """cache_size, mmap_size, wal_autocheckpoint, journal_size_limit, as the connection runs with them."""
    names = ("cache_size", "mmap_size", "wal_autocheckpoint", "journal_size_limit")
    return tuple(int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()) for name in names)


def _reader_and_writer(store: Store) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What a read connection and a write transaction's connection (BEGIN IMMEDIATE) each run with."""
    with store.engine.connect() as connection:
        read = _sizes(connection)
    written = store.transaction(_sizes)
    return read, written


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTLEDGER_SQLITE_CACHE_MB", raising=False)
    monkeypatch.delenv("COSTLEDGER_SQLITE_MMAP_MB", raising=False)
    monkeypatch.delenv("COSTLEDGER_SQLITE_CHECKPOINT_MB", raising=False)


def test_defaults_are_applied_to_readers_and_writers(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "ledger.db"))
    try:
        # 64 MB as SQLite counts a negative cache_size: KiB; 1 GB of map in bytes; a 64 MB log in 4 KiB
        # pages (a new file's page size) and in bytes.
        expected = (-65536, 1073741824, 16384, 67108864)
        assert _reader_and_writer(store) == (expected, expected)
    finally:
        store.close()


def test_costledger_toml_sizes_every_connection_of_a_ledger(tmp_path: Path) -> None:
    config = parse_config("[storage]\nsqlite_cache_mb = 200\nsqlite_mmap_mb = 0\nsqlite_checkpoint_mb = 8\n")
    assert config.storage == StorageSettings(sqlite_cache_mb=200, sqlite_mmap_mb=0, sqlite_checkpoint_mb=8)
    with Ledger(tmp_path / "ledger.db", config=config) as ledger:
        # A second pooled connection too: the settings belong to the engine, not to its first connection.
        with ledger.store.engine.connect() as first, ledger.store.engine.connect() as second:
            assert _sizes(first) == _sizes(second) == (-200 * 1024, 0, 2048, 8 * MB)
        assert _reader_and_writer(ledger.store)[1] == (-204800, 0, 2048, 8388608)
        # And it still records: the events go in through the sized writer.
        assert ledger.record("anthropic", "claude-haiku-4-5", input_tokens=10, output_tokens=1).accepted == 1


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLEDGER_SQLITE_MMAP_MB", "16")
    monkeypatch.setenv("COSTLEDGER_SQLITE_CHECKPOINT_MB", " 1 ")
    chosen = StorageSettings(sqlite_cache_mb=8, sqlite_mmap_mb=512, sqlite_checkpoint_mb=100)
    store = Store(str(tmp_path / "ledger.db"), storage=chosen)
    try:
        # The file's cache; the environment's map and checkpoint (1 MB: 256 pages of 4 KiB).
        assert _reader_and_writer(store) == ((-8192, 16 * MB, 256, MB), (-8192, 16 * MB, 256, MB))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sqlite_cache_mb = 0", "storage.sqlite_cache_mb: must be from 1 to 65536 (MB), not 0"),
        ("sqlite_mmap_mb = 4096", "storage.sqlite_mmap_mb: must be from 0 to 2047 (MB), not 4096"),
        ("sqlite_mmap_mb = -1", "storage.sqlite_mmap_mb: must be from 0 to 2047 (MB), not -1"),
        ('sqlite_cache_mb = "lots"', "storage.sqlite_cache_mb: expected a whole number of MB from 1 to 65536"),
        ("sqlite_cache_mb = 1.5", "storage.sqlite_cache_mb: expected a whole number of MB from 1 to 65536"),
        ("sqlite_cache_mb = true", "storage.sqlite_cache_mb: expected a whole number of MB from 1 to 65536"),
        ("sqlite_checkpoint_mb = 0", "storage.sqlite_checkpoint_mb: must be from 1 to 4096 (MB), not 0"),
        (
            "cache_mb = 64",
            "storage.cache_mb: unknown key; expected one of sqlite_cache_mb, sqlite_checkpoint_mb, sqlite_mmap_mb",
        ),
    ],
)
def test_bad_values_in_the_file_are_refused_naming_the_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f'database = "x.db"\n\n[storage]\n{line}\n', Path("costledger.toml"))
    # The file, the line of the key, the key.
    assert str(caught.value).startswith(f"costledger.toml:4: {message}")


def test_storage_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match="storage: expected a \\[storage\\] table"):
        parse_config('storage = "big"\n')


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COSTLEDGER_SQLITE_CACHE_MB", "64MB", "$COSTLEDGER_SQLITE_CACHE_MB: expected a whole number of MB"),
        ("COSTLEDGER_SQLITE_MMAP_MB", "3000", "$COSTLEDGER_SQLITE_MMAP_MB: must be from 0 to 2047 (MB), not '3000'"),
    ],
)
def test_bad_environment_values_are_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Store(str(tmp_path / "ledger.db"))
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "ledger.db").exists() or (tmp_path / "ledger.db").stat().st_size == 0


def test_the_cli_says_which_variable_is_wrong(tmp_path: Path) -> None:
    Store(str(tmp_path / "ledger.db")).close()  # a ledger that is there: the variable is what is wrong
    exe = Path(sys.executable).with_name("costledger")
    env = {"COSTLEDGER_SQLITE_CACHE_MB": "0", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(exe), "report", "--db", str(tmp_path / "ledger.db")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "$COSTLEDGER_SQLITE_CACHE_MB: must be from 1 to 65536 (MB), not '0'" in done.stderr
    assert "Traceback" not in done.stderr
