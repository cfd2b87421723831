"""The OpenAPI document is complete, and schemathesis finds no server error or schema mismatch in the running API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import require

from .harness import ThreadServer

ST = shutil.which("st", path=str(Path(sys.executable).parent))


def test_every_operation_is_described_with_its_answers_and_examples(server: ThreadServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=60).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert "200" in operation["responses"], f"{method} {path} documents no 200"
            if path.startswith("/v1/webhooks/"):  # signed by the provider: a bad signature is its 400
                assert "400" in operation["responses"], f"{method} {path} hides its signature error"
            elif path.startswith("/v1/"):
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path} hides its auth errors"
    events = spec["paths"]["/v1/events"]["post"]
    body = events["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["events"]["maxItems"] == 1000
    assert body["example"]["events"][0]["service"] == "anthropic"
    assert {"413", "422"} <= set(events["responses"])
    schemas: dict[str, Any] = spec["components"]["schemas"]
    for name in ("RecordedOut", "ErrorBody", "CostsOut", "DailyOut", "HealthOut"):
        assert "example" in schemas[name], f"{name} has no example"


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    pg_url: str, serve_process: Any, tmp_path: Path
) -> None:
    require(ST is not None, "the schemathesis CLI (st)")
    admin = "schemathesis-admin-key-0123456789"
    # The webhooks enabled, so their signature checks are fuzzed too (not only their 404). No generated
    # request can carry Stripe's or Twilio's signature, so they refuse all of it (400): not a schema mismatch.
    secrets = {"COSTLEDGER_STRIPE_WEBHOOK_SECRET": "whsec_fuzz", "COSTLEDGER_TWILIO_AUTH_TOKEN": "fuzz"}
    server = serve_process(pg_url, COSTLEDGER_ADMIN_KEY=admin, COSTLEDGER_ALERT_DELIVERY="off", **secrets)
    (tmp_path / "schemathesis.toml").write_text(
        '[[operations]]\ninclude-path-regex = "^/v1/webhooks/"\nwarnings = false\n', encoding="utf-8"
    )
    assert ST is not None
    run = subprocess.run(
        [ST, "run", f"{server.url}/openapi.json", "--header", f"Authorization: Bearer {admin}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance,response_headers_conformance",
         "--max-examples", "25", "--workers", "1", "--seed", "5", "--no-color", "--generation-database", "none",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )  # fmt: skip
    tail = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    assert "No issues found" in run.stdout, tail
