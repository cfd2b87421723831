"""What routes depend on: the app's Ledger and the caller's key.

Keys arrive as `Authorization: Bearer <key>`. Other ways to present a key (the
dashboard's signed login cookie) register a function on `app.state.key_sources`
that reads it from the request; `require_admin` then accepts them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..keys import ApiKey, KeyVerifier
from ..ledger import Ledger

KeySource = Callable[[Request], str | None]

bearer = HTTPBearer(auto_error=False, description="An ingest or admin key made with `costledger keys create`")


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_verifier(request: Request) -> KeyVerifier:
    verifier: KeyVerifier = request.app.state.keys
    return verifier


def presented_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.credentials:
        return credentials.credentials
    sources: list[KeySource] = getattr(request.app.state, "key_sources", [])
    for source in sources:
        key = source(request)
        if key:
            return key
    return None


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str) -> ApiKey:
    """The caller's key, if it exists, is active and may act in `scope`; else 401 or 403."""
    key = presented_key(request, credentials)
    if key is None:
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    found = get_verifier(request).verify(key)
    if found is None or not found.active:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if not found.may(scope):
        raise HTTPException(403, f"this {found.scope} key may not do this; it needs an {scope} key")
    request.state.api_key = found
    return found


def require_ingest(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiKey:
    return authenticate(request, credentials, "ingest")


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiKey:
    return authenticate(request, credentials, "admin")


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
IngestKey = Annotated[ApiKey, Depends(require_ingest)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]
