"""A loopback server that answers like Stripe's API for the objects a test gives it.

The `stripe` package's own StripeClient talks to it (`[stripe] api_base`), so the webhook's
lookups go through the real SDK, its request encoding (`expand[]=…`) and its error
handling. Expansion is done as Stripe does: an `expand` path replaces an id by its object.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

COLLECTIONS = {
    "balance_transactions": "txn_", "charges": "ch_", "customers": "cus_", "payment_intents": "pi_",
    "refunds": "re_", "invoice_payments": "inpay_",
}  # fmt: skip


@dataclass
class FakeStripe:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → object
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path with query, Authorization)
    url: str = ""

    def add(self, *objects: dict[str, Any]) -> None:
        for obj in objects:
            self.objects[obj["id"]] = obj

    def expanded(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        for path in paths:
            self._expand(out, path.split("."))
        return out

    def _expand(self, obj: Any, keys: list[str]) -> None:
        if not keys or not isinstance(obj, dict):
            return
        head, rest = keys[0], keys[1:]
        if head == "data" and isinstance(obj.get("data"), list):
            for item in obj["data"]:
                self._expand(item, rest)
            return
        value = obj.get(head)
        if isinstance(value, str) and value in self.objects:
            obj[head] = value = copy.deepcopy(self.objects[value])
        self._expand(value, rest)

    def listing(self, collection: str, query: dict[str, list[str]]) -> dict[str, Any]:
        prefix = COLLECTIONS[collection]
        found = [o for o in self.objects.values() if o["id"].startswith(prefix)]
        if "charge" in query:
            found = [o for o in found if o.get("charge") == query["charge"][0]]
        if "invoice" in query:
            found = [o for o in found if o.get("invoice") == query["invoice"][0]]
        return {"object": "list", "data": found, "has_more": False, "url": f"/v1/{collection}"}


@contextmanager
def fake_stripe(*objects: dict[str, Any]) -> Iterator[FakeStripe]:
    api = FakeStripe()
    api.add(*objects)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            api.requests.append((self.path, self.headers.get("Authorization", "")))
            parsed = urlparse(self.path)
            query = parse_qs(parsed.query)
            expand = query.get("expand[]", []) + query.get("expand", [])
            parts = parsed.path.strip("/").split("/")
            status, body = 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "message": f"No such object: {parsed.path}"}}  # fmt: skip
            if len(parts) == 3 and parts[0] == "v1" and parts[2] in api.objects:
                status, body = 200, api.expanded(api.objects[parts[2]], expand)
            elif len(parts) == 2 and parts[0] == "v1" and parts[1] in COLLECTIONS:
                status, body = 200, api.expanded(api.listing(parts[1], query), expand)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
