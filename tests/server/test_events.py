"""POST /v1/events over loopback: durable, idempotent, refused whole when invalid, bounded in size."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from costledger import Ledger

from .harness import ThreadServer

SONNET = {"service": "anthropic", "model": "claude-sonnet-4-20250514"}


def _event(i: int, **extra: object) -> dict[str, object]:
    return {**SONNET, "event_id": f"e-{i}", "usage": {"input_tokens": 8000, "output_tokens": 350},
            "session_id": "room-42", "agent": "scholar", **extra}  # fmt: skip


def test_a_batch_is_stored_and_counted_before_the_answer(server: ThreadServer) -> None:
    with server.client("ingest") as http:
        response = http.post("/v1/events", json={"events": [_event(1), _event(2), {"service": "acme", "usage": {}}]})
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0, "unpriced": 1, "cost_usd": "0.0585"}
    # Another connection to the same file sees the events: they were committed before the 200.
    with Ledger(server.database) as ledger:
        assert ledger.total_usd() == Decimal("0.0585")
        assert sum(t.events for t in ledger.report("service")) == 3


def test_a_retried_batch_counts_nothing_twice(server: ThreadServer) -> None:
    with server.client("ingest") as http:
        first = http.post("/v1/events", json={"events": [_event(1), _event(2)]}).json()
        again = http.post("/v1/events", json={"events": [_event(2), _event(3)]}).json()
    assert (first["accepted"], first["duplicates"]) == (2, 0)
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    with Ledger(server.database) as ledger:
        assert sum(t.events for t in ledger.report("service")) == 3


def test_one_invalid_event_refuses_the_batch_with_an_error_per_event(server: ThreadServer) -> None:
    batch = [_event(0), {**_event(1), "usage": {"input_tokens": -5}}, _event(2), {**_event(3), "usage": {"tokens": 1}}]
    with server.client("ingest") as http:
        response = http.post("/v1/events", json={"events": batch})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "invalid batch: nothing was stored"
    assert [e["index"] for e in body["errors"]] == [1, 3]
    assert all(e["field"].startswith("usage") for e in body["errors"])
    assert "negative" in body["errors"][0]["message"] and "unknown meter" in body["errors"][1]["message"]
    with Ledger(server.database) as ledger:
        assert ledger.report("service") == []


def test_malformed_bodies_get_a_clear_422_and_no_trace(server: ThreadServer) -> None:
    with server.client("ingest") as http:
        for body in (b"{not json", b'{"events": 3}', b"[]", b'{"events": [], "extra": 1}', b"\xff\xfe"):
            response = http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, body
            text = response.text
            assert "Traceback" not in text and "File " not in text
            assert response.json()["errors"][0]["index"] is None


def test_text_the_database_cannot_store_is_refused_not_a_500(server: ThreadServer) -> None:
    with server.client("ingest") as http:
        nul = http.post("/v1/events", json={"events": [_event(0), _event(1, agent="a\x00b")]})
        surrogate = http.post(
            "/v1/events", content=b'{"events": [{"service": "x\\ud800"}]}', headers={"Content-Type": "application/json"}
        )
        query = http.get(
            "/v1/costs", params={"service": "a\x00"}, headers={"Authorization": f"Bearer {server.keys.admin}"}
        )
    assert nul.status_code == 422 and nul.json()["errors"] == [
        {"index": 1, "field": "agent", "message": "must not contain NUL characters or unpaired surrogates"}
    ]
    assert surrogate.status_code == 422
    assert query.status_code == 422


def test_more_than_1000_events_is_413_and_nothing_is_stored(server: ThreadServer) -> None:
    with server.client("ingest") as http:
        response = http.post("/v1/events", json={"events": [_event(i) for i in range(1001)]})
        exactly = http.post("/v1/events", json={"events": [_event(i) for i in range(1000)]})
    assert response.status_code == 413
    assert "at most 1,000" in response.json()["detail"]
    assert exactly.status_code == 200 and exactly.json()["accepted"] == 1000


def test_a_body_over_5_mb_is_413_whether_declared_or_streamed(server: ThreadServer) -> None:
    big = json.dumps({"events": [_event(0, metadata={"blob": "x" * 6_000_000})]}).encode()

    def chunks() -> object:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    with server.client("ingest") as http:
        declared = http.post("/v1/events", content=big, headers={"Content-Type": "application/json"})
        streamed = http.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert streamed.status_code == 413
    with Ledger(server.database) as ledger:
        assert ledger.report("service") == []


def test_metrics_count_what_was_stored(server: ThreadServer) -> None:
    def sample(text: str, name: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    admin = server.keys.headers("admin")  # /metrics shows cost per service: an admin key
    before = httpx.get(f"{server.url}/metrics", headers=admin).text
    with server.client("ingest") as http:
        http.post("/v1/events", json={"events": [_event(i) for i in range(10)]})
        http.post("/v1/events", json={"events": [_event(i) for i in range(5)] + [{"service": "acme-x"}]})
        http.post("/v1/events", json={"events": [{"service": ""}]})
    after = httpx.get(f"{server.url}/metrics", headers=admin).text
    name = 'costledger_events_accepted_total{service="anthropic"}'
    assert sample(after, name) - sample(before, name) == 10
    assert sample(after, "costledger_events_duplicate_total") - sample(before, "costledger_events_duplicate_total") == 5
    unpriced = 'costledger_events_unpriced_total{service="acme-x"}'
    assert sample(after, unpriced) - sample(before, unpriced) == 1
    cost = 'costledger_cost_usd_total{service="anthropic"}'
    assert abs(sample(after, cost) - sample(before, cost) - 0.2925) < 1e-9
    refused = 'costledger_batches_refused_total{reason="invalid"}'
    assert sample(after, refused) - sample(before, refused) == 1
    assert 'costledger_http_request_duration_seconds_count{method="POST",route="/v1/events",status="200"}' in after
