"""API keys: who may write events (`ingest`) and who may read everything (`admin`).

A key is shown once, when it is created; the store keeps only its SHA-256 and a
short prefix to recognise it in `costledger keys list`. Keys are random (256 bits),
so a plain hash is enough: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from . import clock
from .store import Store
from .store.schema import api_keys

SCOPES = ("ingest", "admin")
ENV_ADMIN_KEY = "COSTLEDGER_ADMIN_KEY"
PREFIX_LENGTH = 16
# last_used_at is a hint for people, not an audit log: writing it on every request
# would turn each read into a write.
_TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scope: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may(self, scope: str) -> bool:
        """An admin key may do what an ingest key may; an ingest key only ingests."""
        return self.active and (self.scope == "admin" or self.scope == scope)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat() if value else None


def _now() -> dt.datetime:
    return clock.utcnow()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return f"cl_{scope}_{secrets.token_urlsafe(32)}"


def _row(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        scope=row.scope,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _insert(connection: Connection, name: str, scope: str, key: str) -> ApiKey | None:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    values = {"name": name, "scope": scope, "prefix": key[:PREFIX_LENGTH], "key_hash": hash_key(key),
              "created_at": _now()}  # fmt: skip
    statement = dialect.insert(api_keys).values(values).on_conflict_do_nothing(index_elements=["key_hash"])
    row = connection.execute(statement.returning(*api_keys.c)).first()
    return _row(row) if row is not None else None


def create_key(store: Store, scope: str, name: str) -> tuple[str, ApiKey]:
    """A new key of `scope`: returns the key itself (shown once) and what is stored about it."""
    if not name.strip() or len(name) > 128:
        raise ValueError("a key needs a name of 1 to 128 characters")
    key = new_key(scope)
    stored = store.transaction(lambda connection: _insert(connection, name.strip(), scope, key))
    assert stored is not None  # 256 random bits do not collide
    return key, stored


def list_keys(store: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    with store.engine.connect() as connection:
        return [_row(r) for r in connection.execute(query)]


def revoke_key(store: Store, which: str) -> ApiKey | None:
    """Revoke a key by its id, (the start of) its prefix, or the key itself; None if no active key matches."""

    def work(connection: Connection) -> ApiKey | None:
        condition = api_keys.c.key_hash == hash_key(which)
        if which.isdigit():
            condition = condition | (api_keys.c.id == int(which))
        elif len(which) <= PREFIX_LENGTH:
            condition = condition | api_keys.c.prefix.startswith(which, autoescape=True)
        matches = connection.execute(select(api_keys).where(condition, api_keys.c.revoked_at.is_(None))).all()
        if len(matches) > 1:
            raise ValueError(f"{which!r} matches {len(matches)} keys; revoke by id")
        if not matches:
            return None
        connection.execute(update(api_keys).where(api_keys.c.id == matches[0].id).values(revoked_at=_now()))
        found = connection.execute(select(api_keys).where(api_keys.c.id == matches[0].id)).one()
        return _row(found)

    return store.transaction(work)


def ensure_admin_key(store: Store, key: str | None = None) -> ApiKey | None:
    """Store $COSTLEDGER_ADMIN_KEY (or `key`) as an admin key, once; a revoked one stays revoked."""
    key = key if key is not None else os.environ.get(ENV_ADMIN_KEY)
    if not key:
        return None
    if len(key) < 16:
        raise ValueError(f"{ENV_ADMIN_KEY} must be at least 16 characters")
    bootstrap = key

    def work(connection: Connection) -> ApiKey:
        # Several workers start at once: ON CONFLICT makes all but one a no-op.
        _insert(connection, "bootstrap ($COSTLEDGER_ADMIN_KEY)", "admin", bootstrap)
        return _row(connection.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(bootstrap))).one())

    return store.transaction(work)


class KeyVerifier:
    """Checks presented keys against the store; remembers when each key was last written as used."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._touched: dict[int, float] = {}

    def verify(self, presented: str | None) -> ApiKey | None:
        """The stored key `presented` is, if it exists; revoked keys are returned too (see ApiKey.active)."""
        if not presented or len(presented) > 256:
            return None
        digest = hash_key(presented)
        with self.store.engine.connect() as connection:
            row = connection.execute(select(api_keys).where(api_keys.c.key_hash == digest)).first()
        # The lookup is by an index on the hash; comparing the hashes again in constant
        # time keeps a timing side channel out even if the database compared naively.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        found = _row(row)
        if found.active:
            self._touch(found.id)
        return found

    def _touch(self, key_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, -1e9) < _TOUCH_EVERY.total_seconds():
            return
        self._touched[key_id] = now
        try:
            self.store.transaction(
                lambda c: c.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=_now())),
                attempts=1,
            )
        except Exception:  # a busy database must not refuse an authenticated request
            self._touched.pop(key_id, None)


__all__ = ["SCOPES", "ApiKey", "KeyVerifier", "create_key", "ensure_admin_key", "hash_key", "list_keys", "revoke_key"]
