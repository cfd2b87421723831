"""Finding 8, wrong answers: on SQLite a tag filter whose key was non-ASCII or held `"` or `\\` matched
nothing (PostgreSQL was right); on PostgreSQL `İ` × 64 lower-cased to 128 characters and was cut to 64
silently, after which `db check` reported differences for good.

Now tag filters are exact for any key on both backends, and a stored string is never cut: what does not
fit, measured after normalisation, is refused; the store refuses too rather than cut.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.exc import DBAPIError

from costledger import Ledger
from costledger.errors import InvalidEvent
from costledger.store import Store
from costledger.store.check import check_store
from server.harness import start_thread_server, stop_thread_server

KEYS = ["café", 'say "hi"', "back\\slash", "日本", "a.b", "env", "[0]", "tab\there"]


def test_tag_filters_are_exact_for_any_key(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        for i, key in enumerate(KEYS):
            ledger.record("invoice", cost_usd=str(i + 1), session_id=f"s-{i}", tags={key: "yes", "other": key})
            ledger.record("invoice", cost_usd="100", session_id=f"t-{i}", tags={key: "no"})
        for i, key in enumerate(KEYS):
            (total,) = ledger.report([], tags={key: "yes"})
            assert (total.events, total.cost_usd) == (1, i + 1), key
            page, count = ledger.sessions(tags={key: "yes"})
            assert (count, [s.session_id for s in page]) == (1, [f"s-{i}"]), key
    server = start_thread_server(store_url)
    try:
        with server.client() as admin:
            for i, key in enumerate(KEYS):
                costs = admin.get("/v1/costs", params={"tag": f"{key}=yes"}).json()
                assert (costs["events"], costs["cost_usd"]) == (1, str(i + 1)), key
                sessions = admin.get("/v1/sessions", params=[("tag", f"{key}=yes"), ("tag", f"other={key}")]).json()
                assert [s["session_id"] for s in sessions["sessions"]] == [f"s-{i}"], key
    finally:
        stop_thread_server(server)


def test_no_stored_string_is_cut(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        # Lower-cased, İ is two code points: 64 of them are 128 characters, past the column's 64.
        with pytest.raises(InvalidEvent) as refused:
            ledger.record("İ" * 64, cost_usd="1")
        assert refused.value.errors[0][1] == "service" and "128 characters" in refused.value.errors[0][2]
        assert ledger.record("İ" * 32, cost_usd="1").accepted == 1  # 64 in lower case: fits
        with pytest.raises(InvalidEvent) as refused:
            ledger.session("s" * 257, user_id="u")
        assert refused.value.errors[0][1] == "session_id"
        assert ledger.report("service")[0].group["service"] == "i̇" * 32
        assert check_store(ledger.store) == []
    # Below validation too, PostgreSQL refuses a row that does not fit, rather than store a shorter one
    # (SQLite keeps whatever length it is given: nothing to cut).
    if not store_url.startswith("postgresql"):
        return
    row = {
        "event_id": "long", "ts": dt.datetime(2026, 11, 1), "day": dt.date(2026, 11, 1), "service": "x" * 65,
        "model": None, "operation": None, "session_id": None, "user_id": "u" * 300, "tier": None, "agent": None,
        "mode": None, "endpoint": None, "usage": json.dumps({}), "tags": "{}", "meta": "{}", "cost": 1,
        "cost_source": "reported", "price_ref": None, "unpriced_reason": None, "recorded_cost": None,
        "ingested_at": dt.datetime(2026, 11, 1), "service_tier": None,
    }  # fmt: skip
    store = Store(store_url)
    try:
        with pytest.raises(DBAPIError, match="too long"):
            store.write([row])
        with Ledger(store_url) as ledger:
            assert [t.group["service"] for t in ledger.report("service")] == ["i̇" * 32]  # nothing of it stored
    finally:
        store.close()
