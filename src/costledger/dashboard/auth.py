"""Dashboard login: an admin key exchanged for a signed cookie, and CSRF tokens.

The cookie holds no key. It carries the key's id, an expiry and a random nonce,
signed with HMAC-SHA256 under a key derived from the server secret
($COSTLEDGER_SECRET, optional) *and* the admin key's stored hash. Every worker
process can check it (the hash is in the shared database, so several workers need no
shared secret), and revoking the key logs out every browser it signed in at once.

CSRF: a form that changes something carries HMAC(signing key, nonce) of the
session's cookie, which another site can neither read nor compute. The login form,
before any session exists, uses a double-submit cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from .. import clock
from ..keys import KeyVerifier
from ..store import Store
from ..store.schema import api_keys

COOKIE = "costledger_session"
LOGIN_CSRF_COOKIE = "costledger_login_csrf"
SECRET_ENV = "COSTLEDGER_SECRET"
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


def _signing_key(key_hash: str) -> bytes:
    secret = os.environ.get(SECRET_ENV, "")
    return hmac.new(secret.encode(), f"costledger-dashboard:{key_hash}".encode(), hashlib.sha256).digest()


def _admin_hash(store: Store, key_id: int) -> str | None:
    """The stored hash of an active admin key, or None."""
    with store.engine.connect() as connection:
        row = connection.execute(
            select(api_keys.c.key_hash).where(
                api_keys.c.id == key_id, api_keys.c.scope == "admin", api_keys.c.revoked_at.is_(None)
            )
        ).first()
    return None if row is None else str(row.key_hash)


def log_in(verifier: KeyVerifier, presented: str, now: float | None = None) -> tuple[Login, str] | None:
    """A login and its cookie value for an active admin key; None for any other key."""
    found = verifier.verify(presented.strip())
    if found is None or not found.active or found.scope != "admin":
        return None
    key_hash = _admin_hash(verifier.store, found.id)
    if key_hash is None:
        return None
    expires = int(now if now is not None else clock.timestamp()) + LIFETIME_SECONDS
    login = Login(found.id, expires, secrets.token_urlsafe(16), _signing_key(key_hash))
    payload = f"{login.key_id}.{login.expires}.{login.nonce}"
    return login, f"{payload}.{_sign(login.signing_key, payload)}"


def check_cookie(store: Store, value: str | None, now: float | None = None) -> Login | None:
    """The login a cookie proves: well-formed, signed, unexpired, its admin key still active."""
    if not value or len(value) > 256:
        return None
    parts = value.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    key_id, expires, nonce, signature = int(parts[0]), int(parts[1]), parts[2], parts[3]
    if expires < (now if now is not None else clock.timestamp()):
        return None
    key_hash = _admin_hash(store, key_id)
    if key_hash is None:
        return None
    signing_key = _signing_key(key_hash)
    if not hmac.compare_digest(_sign(signing_key, f"{key_id}.{expires}.{nonce}"), signature):
        return None
    return Login(key_id, expires, nonce, signing_key)


def csrf_ok(login: Login, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(login.csrf_token, token or "")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def login_csrf_ok(cookie: str | None, token: str | None) -> bool:
    return bool(cookie) and bool(token) and hmac.compare_digest(cookie or "", token or "")


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
