"""Every route × {no key, wrong key, ingest, admin, revoked}: only /healthz and /metrics answer without a key.

The routes come from the running app's OpenAPI, so a route another module adds is
checked too: it must refuse anonymous, unknown and revoked keys, and let an admin in.
"""

from __future__ import annotations

import re

import httpx

from .harness import ThreadServer

PUBLIC = {("GET", "/healthz"), ("GET", "/metrics")}
# Authenticated by the provider's signature, not a key: whatever key comes along, an unsigned request stores
# nothing (404 while the provider's secret is not configured, 400 once it is).
SIGNED = {("POST", "/v1/webhooks/stripe"), ("POST", "/v1/webhooks/twilio")}
# Routes an ingest key may use (DESIGN 3); every other route is admin-only.
INGEST = {("POST", "/v1/events"), ("POST", "/v1/traces"), ("GET", "/v1/budget/check")}
WHO = ("none", "wrong", "revoked", "ingest", "admin")

EVENT = {"event_id": "auth-1", "service": "anthropic", "model": "claude-sonnet-4-20250514",
         "usage": {"input_tokens": 10}, "session_id": "room-42"}  # fmt: skip


def expected(method: str, path: str, who: str) -> set[int]:
    if (method, path) in PUBLIC:
        return {200}
    if (method, path) in SIGNED:
        return {400, 404}
    if who in ("none", "wrong", "revoked"):
        return {401}
    if who == "ingest" and (method, path) not in INGEST:
        return {403}
    # Allowed: the answer is the route's own (200, or a 4xx about the request), never an auth refusal.
    return {200} if (method, path) in KNOWN else set(range(200, 500)) - {401, 403}


KNOWN = PUBLIC | {("POST", "/v1/events"), ("GET", "/v1/costs"), ("GET", "/v1/costs/daily"), ("GET", "/v1/sessions"),
                  ("GET", "/v1/sessions/{session_id}"), ("GET", "/v1/prices")}  # fmt: skip


def test_every_route_answers_each_kind_of_key_as_it_should(server: ThreadServer) -> None:
    with server.client("admin") as http:
        assert http.post("/v1/events", json={"events": [EVENT]}).status_code == 200
    spec = httpx.get(f"{server.url}/openapi.json", timeout=60).json()
    routes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert set(routes) >= KNOWN, "a route of this issue is missing from the API"
    failures = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", "room-42", path)
            for who in WHO:
                body = {"events": [EVENT]} if path == "/v1/events" else {}
                kwargs = {"json": body} if method in ("POST", "PUT", "PATCH") else {}
                response = http.request(method, url, headers=server.keys.headers(who), **kwargs)
                if response.status_code not in expected(method, path, who):
                    failures.append(f"{method} {path} as {who}: {response.status_code} {response.text[:120]}")
                if response.status_code == 401:
                    assert response.headers.get("www-authenticate") == "Bearer"
    assert not failures, "\n".join(failures)


def test_the_openapi_document_itself_needs_no_key_but_shows_the_bearer_scheme(server: ThreadServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=60).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/costs"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_a_key_revoked_while_the_server_runs_stops_working_at_once(server: ThreadServer) -> None:
    from costledger.keys import create_key, revoke_key
    from costledger.store import Store

    store = Store(server.database)
    try:
        key, stored = create_key(store, "admin", "short-lived")
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.url}/v1/prices", headers=headers).status_code == 200
        revoke_key(store, stored.prefix)
        assert httpx.get(f"{server.url}/v1/prices", headers=headers).status_code == 401
    finally:
        store.close()
