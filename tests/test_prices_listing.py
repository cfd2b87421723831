"""The catalog in force lists every price, including genai-prices ids that are not model names."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from costledger.cli import app
from costledger.pricing import Catalog

AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def test_in_force_lists_ids_that_do_not_resolve_as_names() -> None:
    listed = {(e.service, e.model): e for e in Catalog().in_force(AT, ["openai"])}
    # "ft:gpt-4o" is genai-prices' id for fine-tuned GPT-4o; no request names a model that way.
    assert listed[("openai", "ft:gpt-4o")].kind == "genai-prices"
    assert listed[("openai", "gpt-4o")].rates["input_tokens"].usd == 2.5


def test_in_force_shows_our_entry_not_the_one_it_replaces() -> None:
    listed = [e for e in Catalog().in_force(AT, ["anthropic"]) if e.model == "claude-sonnet-4-0"]
    assert [e.kind for e in listed] == ["correction"]


def test_prices_command_lists_every_service_it_is_asked_for() -> None:
    result = CliRunner().invoke(app, ["prices", "--service", "openai", "--service", "stripe", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["service"] for r in rows} == {"openai", "stripe"}
    card = next(r for r in rows if r["model"] == "card")
    assert card["rates"] == [
        "$2.9 per 100 amount_usd",
        "$0.3 per event",
        "total rounded half-up to $0.01",
        "no charge when every reading is zero",
    ]
    assert card["confidence"] == "published" and card["read"] and card["granularity"]
