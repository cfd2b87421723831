"""Shared fixtures: a real SQLite file, a real PostgreSQL schema per test.

A test that needs PostgreSQL (or, later, Chromium) skips on a laptop without it,
but when CI=true a missing dependency is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy import Engine

CI = os.environ.get("CI", "").lower() == "true"
PG_SERVER = os.environ.get("COSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# One instant for the whole run, so no test crosses midnight half-way: the suite's clock is pinned
# through COSTLEDGER_NOW (servers and CLIs the tests start share it). COSTLEDGER_TEST_NOW replays the
# suite at any instant; otherwise it is the moment the run started (faketime moves that too). The
# pytest-xdist workers inherit it from the first process, so every worker runs at the same instant.
RUN_NOW = os.environ.get("COSTLEDGER_TEST_NOW") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
os.environ["COSTLEDGER_TEST_NOW"] = RUN_NOW
os.environ["COSTLEDGER_NOW"] = RUN_NOW  # for session- and module-scoped fixtures too


def require(available: bool, what: str) -> None:
    """Skip without `what` on a laptop; fail under CI=true."""
    if available:
        return
    if CI:
        pytest.fail(f"{what} is not available, and CI=true makes a missing dependency a failure")
    pytest.skip(f"{what} is not available")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's config or writes to their data directory."""
    for name in ("COSTLEDGER_DATABASE_URL", "COSTLEDGER_CONFIG", "ALERT_SESSION_COST", "ALERT_DAILY_COST",
                 "ALERT_MONTHLY_COST", "COSTLEDGER_ADMIN_KEY", "COSTLEDGER_STRIPE_WEBHOOK_SECRET",
                 "COSTLEDGER_STRIPE_API_KEY", "COSTLEDGER_TWILIO_AUTH_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COSTLEDGER_DB", str(tmp_path / "default-ledger.db"))
    monkeypatch.setenv("COSTLEDGER_PRICES_DIR", str(tmp_path / "prices"))  # fetched genai-prices data
    monkeypatch.setenv("COSTLEDGER_NOW", RUN_NOW)
    monkeypatch.chdir(tmp_path)
    from costledger import clock

    clock.set_clock(None)
    yield
    clock.set_clock(None)  # a test that moved the clock leaves the next one on the run's instant


@contextlib.contextmanager
def writing_as_of(engine: Engine) -> Iterator[None]:
    """The writer, writing only the event columns the database has at its revision (as it did then)."""
    from sqlalchemy import inspect

    from costledger.store import writer

    present = {c["name"] for c in inspect(engine).get_columns("events")}
    columns = tuple(c for c in writer._event_columns() if c in present)
    saved = writer._event_columns
    writer._STATEMENTS.clear()
    writer._event_columns = lambda: columns  # type: ignore[assignment]
    try:
        yield
    finally:
        writer._event_columns = saved  # type: ignore[assignment]
        writer._STATEMENTS.clear()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[object]:
    from costledger import Ledger

    with Ledger(db_path) as opened:
        yield opened


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    require(_pg_reachable(), f"PostgreSQL at {PG_SERVER}")
    return PG_SERVER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_server, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
