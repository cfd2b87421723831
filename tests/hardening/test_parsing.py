"""Finding 10, looser than documented: epoch-number timestamps, "1_000" and full-width digits were
accepted; duplicate JSON keys kept the last value.

Now a time is RFC 3339 text (or an aware datetime in Python), a number is a JSON number or text written as
one ("0.5"), and a body is UTF-8 JSON with each key once per object: anything else is a 422 (400 for an
OTLP export) with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from costledger import Ledger
from costledger.errors import InvalidEvent
from server.harness import ThreadServer, start_thread_server, stop_thread_server


@pytest.fixture
def server(tmp_path: Path) -> ThreadServer:
    running = start_thread_server(str(tmp_path / "ledger.db"))
    yield running  # type: ignore[misc]
    stop_thread_server(running)


def _post(server: ThreadServer, body: str | bytes) -> tuple[int, dict[str, object]]:
    with server.client("ingest") as ingest:
        answer = ingest.post("/v1/events", content=body, headers={"content-type": "application/json"})
    return answer.status_code, answer.json()


def test_times_are_rfc_3339_text_only(server: ThreadServer, tmp_path: Path) -> None:
    for ts in ("1764000000", "1764000000.5", "2026-11-22T10:15", "2026-W47-6T10:15:00Z", "20261122T101500Z",
               "2026-11-22T10:15:00", "Sun, 22 Nov 2026 10:15:00 GMT"):  # fmt: skip
        status, answer = _post(server, f'{{"events": [{{"service": "x", "ts": "{ts}"}}]}}')
        assert status == 422 and answer["errors"][0]["field"] == "ts", (ts, answer)  # type: ignore[index]
    for ts in ("1764000000", "1764000000.5", "true"):
        status, answer = _post(server, f'{{"events": [{{"service": "x", "ts": {ts}}}]}}')
        assert status == 422 and answer["errors"][0]["field"] == "ts", (ts, answer)  # type: ignore[index]
    with Ledger(tmp_path / "lib.db") as ledger, pytest.raises(InvalidEvent, match="ts"):
        ledger.record("x", ts=1764000000)


def test_numbers_are_json_numbers(server: ThreadServer) -> None:
    for text in ('"1_000"', '"１２"', '" 5"', '"NaN"', '"Infinity"', '"0x10"', '"1e5000"', '"05"', '"1."'):
        status, answer = _post(server, f'{{"events": [{{"service": "x", "usage": {{"requests": {text}}}}}]}}')
        assert status == 422 and answer["errors"][0]["field"] == "usage", (text, answer)  # type: ignore[index]
        status, answer = _post(server, f'{{"events": [{{"service": "x", "cost_usd": {text}}}]}}')
        assert status == 422 and answer["errors"][0]["field"] == "cost_usd", (text, answer)  # type: ignore[index]
    for token in ("NaN", "Infinity", "-Infinity"):
        status, answer = _post(server, f'{{"events": [{{"service": "x", "metadata": {{"n": {token}}}}}]}}')
        assert status == 422 and "not JSON" in str(answer), (token, answer)
    for text in ("1000", "12.5", '"0.5"', '"1e3"', "1E3"):
        status, answer = _post(server, f'{{"events": [{{"service": "x", "usage": {{"requests": {text}}}}}]}}')
        assert status == 200, (text, answer)


def test_duplicate_keys_are_refused_wherever_they_are(server: ThreadServer) -> None:
    bodies = [
        '{"events": [], "events": [{"service": "x"}]}',
        '{"events": [{"service": "x", "service": "y"}]}',
        '{"events": [{"service": "x", "usage": {"requests": 1, "requests": 1000000}}]}',
        '{"events": [{"service": "x", "tags": {"env": "prod", "env": "dev"}}]}',
        '{"events": [{"service": "x", "metadata": {"a": {"b": 1, "b": 2}}}]}',
    ]
    for body in bodies:
        status, answer = _post(server, body)
        assert status == 422 and "appears twice" in str(answer), (body, answer)
    status, answer = _post(server, '{"events": [{"service": "x"}]}'.encode("utf-16"))
    assert status == 422 and "UTF-8" in str(answer), answer
    with server.client("ingest") as ingest:
        traces = '{"resourceSpans": [{"scopeSpans": [], "scopeSpans": []}]}'
        answer = ingest.post("/v1/traces", content=traces, headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "appears twice" in answer.text, answer.text
    with server.client() as admin:
        assert admin.get("/v1/costs").json()["events"] == 0
