"""`costledger prices update`: genai-prices data fetched over HTTP (a loopback server) or read from a
file, refused whole when bad or truncated, and used by every process from then on."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from costledger.cli import app
from costledger.pricing import Catalog, price

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def _model(model_id: str, prices: dict[str, object]) -> dict[str, object]:
    return {"id": model_id, "match": {"equals": model_id}, "prices": prices}


def price_file(gpt_4o_input: float) -> bytes:
    """A small price file in genai-prices' published shape (a list of providers with their models)."""
    providers = [
        {"id": "anthropic", "name": "Anthropic", "api_pattern": "https://api\\.anthropic\\.com",
         "models": [_model("claude-opus-4-5", {"input_mtok": 5, "output_mtok": 25, "cache_read_mtok": 0.5})]},
        {"id": "openai", "name": "OpenAI", "api_pattern": "https://api\\.openai\\.com",
         "models": [_model("gpt-4o", {"input_mtok": gpt_4o_input, "output_mtok": 8}),
                    {**_model("gpt-9", {"input_mtok": 1, "output_mtok": 2}),
                     "prices": [{"prices": {"input_mtok": 1, "output_mtok": 2}},
                                {"constraint": {"start_date": "2026-11-01"}, "prices": {"input_mtok": 0.5}}]}]},
        {"id": "google", "name": "Google", "api_pattern": "https://generativelanguage\\.googleapis\\.com",
         "models": [_model("gemini-2.5-flash", {"input_mtok": 0.3, "output_mtok": 2.5})]},
    ]  # fmt: skip
    return json.dumps(providers).encode()


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Files,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def _cost(model: str = "gpt-4o") -> str:
    result = CliRunner().invoke(app, ["price", "openai", model, "--input-tokens", "1000000", "--json"])
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["cost_usd"])


def test_update_from_a_url_is_used_by_every_new_catalog(served: tuple[str, dict[str, bytes]]) -> None:
    base, files = served
    files["/data.json"] = price_file(gpt_4o_input=2)
    assert _cost() == "2.5"  # the package's data: $2.50 per MTok
    result = CliRunner().invoke(app, ["prices", "update", "--from", f"{base}/data.json"])
    assert result.exit_code == 0, result.output
    assert "stored genai-prices data from http://127.0.0.1" in result.output
    # A process started now (each CLI call builds its catalog) prices from the fetched data: $2 per MTok.
    assert _cost() == "2"
    assert price("openai", "gpt-4o", at=NOW, catalog=Catalog(), input_tokens=1_000_000).total == Decimal("2")
    # Dated prices in the file apply from their date: gpt-9 halves its input price on 2026-11-01.
    assert price("openai", "gpt-9", at=NOW, catalog=Catalog(), input_tokens=1_000_000).total == Decimal("0.5")
    listing = CliRunner().invoke(app, ["prices", "--service", "openai"])
    shown = " ".join(listing.output.split())  # as wrapped at any terminal width
    assert "fetched 20" in shown and "from http://127.0.0.1" in shown
    assert "latest dated price: 2026-11-01" in shown


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (price_file(2)[:-40], "not JSON"),  # truncated in transit
        (b'{"providers": []}', "a list of providers"),
        (json.dumps([{"id": "openai"}]).encode(), "not genai-prices data"),
        (json.dumps([{"id": "acme", "name": "Acme", "api_pattern": "x", "models": []}]).encode(), "prices no models"),
    ],
)
def test_a_bad_or_truncated_file_is_refused_and_the_old_data_kept(
    served: tuple[str, dict[str, bytes]], body: bytes, why: str
) -> None:
    base, files = served
    files["/good.json"] = price_file(gpt_4o_input=2)
    files["/bad.json"] = body
    assert CliRunner().invoke(app, ["prices", "update", "--from", f"{base}/good.json"]).exit_code == 0
    refused = CliRunner().invoke(app, ["prices", "update", "--from", f"{base}/bad.json"])
    assert refused.exit_code == 2
    assert why in refused.output and "the prices in use stay as they were" in refused.output
    assert _cost() == "2"


def test_an_unreachable_url_is_refused(served: tuple[str, dict[str, bytes]]) -> None:
    base, _ = served
    refused = CliRunner().invoke(app, ["prices", "update", "--from", f"{base}/missing.json"])
    assert refused.exit_code == 2 and "404" in refused.output
    assert _cost() == "2.5"


def test_update_from_a_file_and_a_damaged_snapshot_is_skipped(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_bytes(price_file(gpt_4o_input=2))
    second.write_bytes(price_file(gpt_4o_input=3))
    assert CliRunner().invoke(app, ["prices", "update", "--from", str(first)]).exit_code == 0
    assert _cost() == "2"
    assert CliRunner().invoke(app, ["prices", "update", "--from", str(second)]).exit_code == 0
    assert _cost() == "3"
    # The newest snapshot damaged on disk since: the one before it is used, not a half-read file.
    newest = sorted(p for p in (tmp_path / "prices").glob("genai-prices-*.json") if ".meta" not in p.name)[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    assert _cost() == "2"
