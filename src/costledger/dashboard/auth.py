"""Dashboard login: an admin key exchanged for a signed cookie backed by a session row, and CSRF tokens.

The cookie holds no key. It carries the key's id, an expiry and a random nonce, signed with
HMAC-SHA256 under a key derived from the server secret and the admin key's stored hash. The
secret is $COSTLEDGER_SECRET or, without it, a random one made once and kept in the data directory
(next to a SQLite ledger, else the user data directory): reading the database is not enough to
sign a cookie. Each sign-in is also a row of `dashboard_sessions` holding the nonce's SHA-256 and
the expiry as issued: signing out revokes that row, so a copied cookie stops working at once; an
expiry the cookie claims beyond the row's (or beyond 12 h from now) is refused; and revoking the
admin key signs out every browser it signed in.

CSRF: a form that changes something carries HMAC(signing key, nonce) of the session's cookie,
which another site can neither read nor compute. The login form, before any session exists,
uses a double-submit cookie.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from .. import clock
from ..keys import KeyVerifier
from ..store import Store
from ..store.schema import api_keys, dashboard_sessions

COOKIE = "costledger_session"
LOGIN_CSRF_COOKIE = "costledger_login_csrf"
SECRET_ENV = "COSTLEDGER_SECRET"
SECRET_FILE = "dashboard-secret"
LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Login:
    key_id: int
    expires: int
    nonce: str
    signing_key: bytes

    @property
    def csrf_token(self) -> str:
        return _sign(self.signing_key, f"csrf.{self.nonce}")


def _sign(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def data_directory(store: Store) -> Path:
    """Where this ledger keeps its files: a SQLite file's directory, else the user data directory."""
    if store.dialect == "sqlite" and store.engine.url.database:
        return Path(store.engine.url.database).resolve().parent
    from platformdirs import user_data_dir

    return Path(user_data_dir("costledger", appauthor=False))


@functools.cache
def _kept_secret(directory: Path) -> bytes:
    """The random secret kept in `directory`, made on first use; several workers agree on one (link is atomic)."""
    path = directory / SECRET_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        scratch = directory / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_hex(32).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(scratch, path)  # fails if another process made it first: then theirs is the secret
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_bytes().strip()


def server_secret(store: Store) -> bytes:
    return os.environ.get(SECRET_ENV, "").encode() or _kept_secret(data_directory(store))


def _signing_key(store: Store, key_hash: str) -> bytes:
    return hmac.new(server_secret(store), f"costledger-dashboard:{key_hash}".encode(), hashlib.sha256).digest()


def _token_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _naive(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def log_in(verifier: KeyVerifier, presented: str, now: float | None = None) -> tuple[Login, str] | None:
    """A login and its cookie value for an active admin key; None for any other key."""
    found = verifier.verify(presented.strip())
    if found is None or not found.active or found.scope != "admin":
        return None
    store = verifier.store
    issued = int(now if now is not None else clock.timestamp())
    login = Login(found.id, issued + LIFETIME_SECONDS, secrets.token_urlsafe(16), b"")

    def sign_in(connection: Connection) -> Any:
        row = connection.execute(select(api_keys.c.key_hash).where(api_keys.c.id == found.id)).first()
        if row is not None:
            # Sign-ins that ended a day ago are of no use to anyone: they go as new ones come.
            old = dashboard_sessions.c.expires_at < _naive(issued - 86400)
            connection.execute(delete(dashboard_sessions).where(old))
            connection.execute(insert(dashboard_sessions).values(
                token_hash=_token_hash(login.nonce), key_id=found.id, created_at=_naive(issued),
                expires_at=_naive(login.expires)))  # fmt: skip
        return row

    row = store.transaction(sign_in)
    if row is None:
        return None
    login = Login(login.key_id, login.expires, login.nonce, _signing_key(store, str(row.key_hash)))
    payload = f"{login.key_id}.{login.expires}.{login.nonce}"
    return login, f"{payload}.{_sign(login.signing_key, payload)}"


def check_cookie(store: Store, value: str | None, now: float | None = None) -> Login | None:
    """The login a cookie proves: well-formed, signed, unexpired, its session not signed out, its admin key
    still active."""
    if not value or len(value) > 256 or not value.isascii():
        return None
    parts = value.split(".")
    if len(parts) != 4 or not parts[0].isdecimal() or not parts[1].isdecimal() or len(parts[1]) > 12:
        return None
    key_id, expires, nonce, signature = int(parts[0]), int(parts[1]), parts[2], parts[3]
    moment = now if now is not None else clock.timestamp()
    if not moment <= expires <= moment + LIFETIME_SECONDS:  # expired, or claiming more than a sign-in gets
        return None
    s, k = dashboard_sessions.c, api_keys.c
    with store.engine.connect() as connection:
        row = connection.execute(
            select(k.key_hash, s.expires_at)
            .select_from(dashboard_sessions.join(api_keys, k.id == s.key_id))
            .where(
                s.token_hash == _token_hash(nonce),
                s.key_id == key_id,
                s.revoked_at.is_(None),
                k.scope == "admin",
                k.revoked_at.is_(None),
            )
        ).first()
    if row is None or row.expires_at != _naive(expires):
        return None
    signing_key = _signing_key(store, str(row.key_hash))
    if not hmac.compare_digest(_sign(signing_key, f"{key_id}.{expires}.{nonce}"), signature):
        return None
    return Login(key_id, expires, nonce, signing_key)


def log_out(store: Store, login: Login) -> None:
    """Revoke this sign-in: its cookie, wherever it was copied, stops working."""
    s = dashboard_sessions.c
    signed_in = and_(s.token_hash == _token_hash(login.nonce), s.revoked_at.is_(None))
    store.transaction(
        lambda c: c.execute(update(dashboard_sessions).where(signed_in).values(revoked_at=clock.utcnow()))
    )


def csrf_ok(login: Login, token: str | None) -> bool:
    return bool(token) and (token or "").isascii() and hmac.compare_digest(login.csrf_token, token or "")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def login_csrf_ok(cookie: str | None, token: str | None) -> bool:
    if not cookie or not token or not cookie.isascii() or not token.isascii():
        return False
    return hmac.compare_digest(cookie, token)


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
