"""Finding 4, cardinality from an ingest key: 10,000 distinct service names grew /metrics from 110 KB
to 4.07 MB, fired 10,000 "unpriced" alerts and slowed the overview from 0.23 s to 5.33 s; /metrics
showed cost per service to anyone.

Now an ingest key may bring a capped number of distinct services and models a day (422 beyond,
naming each event), Prometheus labels are bounded (the rest count as `other`), unpriced models make
one alert a day listing them, and /metrics needs an admin key unless configured public.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.harness import ServeProcess, make_keys, restartable_port

CONFIG = """
[server]
max_services_per_day = 5
max_models_per_day = 8
metric_label_values = 3
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    """`costledger serve` in a process of its own (its Prometheus labels start empty), with the limits above."""
    database = str(tmp_path / "ledger.db")
    keys = make_keys(database)
    config = tmp_path / "costledger.toml"
    config.write_text(CONFIG)
    proc = ServeProcess(database, restartable_port(), 1, tmp_path / "serve.log",
                        {"COSTLEDGER_CONFIG": str(config), "COSTLEDGER_ALERT_DELIVERY": "off"})  # fmt: skip
    proc.start()
    try:
        yield proc, {"admin": keys.admin, "ingest": keys.ingest}
    finally:
        proc.kill()


def _post(url: str, key: str, events: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"},
                      timeout=60)  # fmt: skip


def _event(service: str, model: str = "m") -> dict[str, object]:
    return {"service": service, "model": model, "cost_usd": "0.01"}


def test_an_ingest_key_brings_at_most_the_days_cap_of_new_services_and_models(
    serve: tuple[ServeProcess, dict[str, str]],
) -> None:
    proc, keys = serve
    assert _post(proc.url, keys["ingest"], [_event(f"svc-{i}") for i in range(5)]).status_code == 200
    # A sixth service: that event is refused, naming it, and nothing of its batch is stored.
    answer = _post(proc.url, keys["ingest"], [_event("svc-0"), _event("svc-new"), _event("svc-1")])
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert (error["index"], error["field"]) == (1, "service")
    assert "5 distinct services a day" in error["message"]
    # Names the day already has keep working; a new model of a known service counts against the models' cap.
    assert (
        _post(proc.url, keys["ingest"], [_event("svc-0"), _event("svc-1", "m2"), _event("svc-1", "m3")]).status_code
        == 200
    )
    answer = _post(proc.url, keys["ingest"], [_event("svc-2", "m2"), _event("svc-2", "m3")])
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "model", answer.text
    # An admin key (the operator, an import) is not capped.
    assert _post(proc.url, keys["admin"], [_event(f"admin-{i}") for i in range(20)]).status_code == 200
    costs = httpx.get(f"{proc.url}/v1/costs", params={"group_by": "service"},
                      headers={"Authorization": f"Bearer {keys['admin']}"}).json()  # fmt: skip
    assert len(costs["rows"]) == 25


def test_metrics_need_a_key_and_keep_their_labels_bounded(serve: tuple[ServeProcess, dict[str, str]]) -> None:
    proc, keys = serve
    assert _post(proc.url, keys["admin"], [_event(f"svc-{i}") for i in range(40)]).status_code == 200
    assert httpx.get(f"{proc.url}/metrics").status_code == 401
    assert httpx.get(f"{proc.url}/metrics", headers={"Authorization": f"Bearer {keys['ingest']}"}).status_code == 403
    text = httpx.get(f"{proc.url}/metrics", headers={"Authorization": f"Bearer {keys['admin']}"}).text
    services = set(re.findall(r'costledger_events_accepted_total\{service="([^"]+)"\}', text))
    assert len(services) == 4 and "other" in services, services  # the first 3 and `other`
    other = re.search(r'costledger_events_accepted_total\{service="other"\} (\S+)', text)
    assert other is not None and float(other.group(1)) == 37.0
    # A made-up HTTP method is one label value, not one per token.
    for method in ("PROPFIND", "MKCOL", "PURGE"):
        httpx.request(method, f"{proc.url}/healthz")
    text = httpx.get(f"{proc.url}/metrics", headers={"Authorization": f"Bearer {keys['admin']}"}).text
    methods = set(re.findall(r'costledger_http_request_duration_seconds_count\{method="([^"]+)"', text))
    assert methods <= {"GET", "POST", "OTHER"} and "OTHER" in methods, methods
    # Configured public, they answer without a key.
    proc.kill()
    proc.env["COSTLEDGER_METRICS_PUBLIC"] = "true"
    proc.start()
    assert httpx.get(f"{proc.url}/metrics").status_code == 200


def test_unpriced_models_make_one_alert_a_day_listing_them(serve: tuple[ServeProcess, dict[str, str]]) -> None:
    proc, keys = serve
    unknown = [{"service": f"made-up-{i}", "model": f"model-{i}", "usage": {"requests": 1}} for i in range(1000)]
    answer = _post(proc.url, keys["admin"], unknown)
    assert answer.status_code == 200 and answer.json()["unpriced"] == 1000, answer.text
    assert _post(proc.url, keys["admin"], [{"service": "made-up-x", "usage": {"requests": 1}}]).status_code == 200
    alerts = httpx.get(f"{proc.url}/v1/alerts", params={"kind": "unpriced"},
                       headers={"Authorization": f"Bearer {keys['admin']}"}).json()["alerts"]  # fmt: skip
    (alert,) = alerts
    assert alert["subject"] == "total" and len(alert["details"]["models"]) == 20
    assert alert["details"]["models_not_listed"] == 980 and "and 980 more" in alert["message"]
