"""The usage event: what is refused (naming the field), what is normalised, and how it is stored as JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costledger import InvalidEvent, Ledger, UsageEvent, clock
from costledger.events import parse_event, parse_events, to_json

BASE: dict[str, Any] = {"service": "openai", "model": "gpt-4o", "usage": {"input_tokens": 10, "output_tokens": 2}}


def refused(change: dict[str, Any]) -> tuple[str, str]:
    """The (field, message) of the first error for BASE with `change`; checked alike alone and in a batch."""
    event = {**BASE, **change}
    with pytest.raises(InvalidEvent) as alone:
        parse_event(event)
    with pytest.raises(InvalidEvent) as in_batch:
        parse_events([BASE, event])
    index, field, message = alone.value.errors[0]
    assert index is None
    # In a batch the error names the event's index, and says the same thing.
    assert in_batch.value.errors == [(1, field, message)]
    assert f"event 1: {field}" in str(in_batch.value)
    return field, message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"usage": {"tokens": 5}}, "usage", "unknown meter 'tokens'"),
        ({"usage": {"input_tokens": -1}}, "usage", "usage.input_tokens must not be negative"),
        ({"usage": {"input_tokens": float("nan")}}, "usage", "usage.input_tokens must be finite"),
        ({"usage": {"input_tokens": float("inf")}}, "usage", "usage.input_tokens must be finite"),
        ({"usage": {"output_tokens": "-inf"}}, "usage", "usage.output_tokens must be a number such as 12"),
        ({"usage": {"input_tokens": 10**12 + 1}}, "usage", "usage.input_tokens is absurdly large"),
        ({"usage": {"audio_seconds": 1.5e12}}, "usage", "usage.audio_seconds is absurdly large"),
        ({"usage": {"input_tokens": True}}, "usage", "usage.input_tokens must be a number"),
        ({"usage": {"characters": "many"}}, "usage", "usage.characters must be a number"),
        ({"usage": {"characters": None}}, "usage", "usage.characters must be a number"),
        ({"usage": [1, 2]}, "usage", "usage must be an object"),
        ({"usage": {"input_tokens": 10, "cache_read_tokens": 8, "cache_write_tokens": 3}}, "usage", "exceed"),
        ({"ts": "yesterday"}, "ts", "RFC 3339"),
        ({"ts": "2026-13-40T10:00:00Z"}, "ts", "valid datetime"),
        ({"ts": "2026-11-22T10:15:00"}, "ts", "RFC 3339"),  # no offset
        ({"ts": "2026-11-22"}, "ts", "RFC 3339"),
        ({"event_id": "e" * 129}, "event_id", "at most 128 characters"),
        ({"event_id": ""}, "event_id", "at least 1 character"),
        ({"session_id": "s" * 257}, "session_id", "at most 256 characters"),
        ({"user_id": "u" * 257}, "user_id", "at most 256 characters"),
        ({"agent": "a" * 257}, "agent", "at most 256 characters"),
        ({"tier": "t" * 257}, "tier", "at most 256 characters"),
        ({"mode": "m" * 257}, "mode", "at most 256 characters"),
        ({"endpoint": "/" * 257}, "endpoint", "at most 256 characters"),
        ({"model": "m" * 257}, "model", "at most 256 characters"),
        ({"tags": {f"k{i}": "v" for i in range(65)}}, "tags", "at most 64 tags (65 given)"),
        ({"tags": {"retries": 3}}, "tags", "tag 'retries' must be a string, not int"),
        ({"tags": {"ok": None}}, "tags", "tag 'ok' must be a string"),
        ({"tags": {"k": "v" * 257}}, "tags", "longer than 256"),
        ({"metadata": {"blob": "x" * 70_000}}, "metadata", "at most 65536"),
        ({"cost_usd": -0.5}, "cost_usd", "cost_usd must not be negative"),
        ({"cost_usd": "NaN"}, "cost_usd", "cost_usd must be a number such as 12"),
        ({"service": ""}, "service", "at least 1 character"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change: dict[str, Any], field: str, words: str) -> None:
    got_field, message = refused(change)
    assert got_field == field
    assert words in message


def test_a_missing_service_is_named() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event({"usage": {"input_tokens": 1}})
    assert caught.value.errors[0][1] == "service"


def test_every_bad_event_of_a_batch_is_reported() -> None:
    batch = [BASE, {**BASE, "usage": {"input_tokens": -1}}, BASE, {**BASE, "ts": "soon"}, "not an object"]
    with pytest.raises(InvalidEvent) as caught:
        parse_events(batch)
    assert [(i, f) for i, f, _ in caught.value.errors] == [(1, "usage"), (3, "ts"), (4, "")]
    assert caught.value.as_dicts()[0]["index"] == 1


def test_at_most_64_tags_and_string_values_are_accepted() -> None:
    event = parse_event({**BASE, "tags": {f"k{i}": "v" for i in range(64)}})
    assert len(event.tags) == 64


def test_a_custom_meter_is_accepted_only_where_it_is_priced() -> None:
    with pytest.raises(InvalidEvent, match="unknown meter 'pdf_pages'"):
        parse_event({"service": "docparse", "usage": {"pdf_pages": 3}})
    event = parse_event({"service": "docparse", "usage": {"pdf_pages": 3}}, custom_meters=frozenset({"pdf_pages"}))
    assert event.usage == {"pdf_pages": 3}
    # A ready-made event is checked against the meters too.
    with pytest.raises(InvalidEvent, match="pdf_pages"):
        parse_events([event])


def test_events_are_normalised() -> None:
    event = parse_event(
        {
            "service": " Anthropic ",
            "model": "claude-sonnet-4-5",
            "ts": "2026-11-22T12:15:00+02:00",
            "usage": {"input_tokens": 8000, "audio_seconds": 0.1, "amount_usd": "29.99"},
            "session_id": " room-42 ",
            "cost_usd": 0.3,
        }
    )
    assert event.service == "anthropic"
    assert event.ts == dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC) and event.ts.tzinfo == dt.UTC
    assert event.usage == {"input_tokens": 8000, "audio_seconds": Decimal("0.1"), "amount_usd": Decimal("29.99")}
    assert event.session_id == "room-42"
    assert event.cost_usd == Decimal("0.3")  # through the float's shortest repr, never its binary value
    assert len(event.event_id) == 32  # generated when absent
    assert parse_event(BASE).ts == clock.now()  # the one clock, pinned for the run


def test_a_z_suffix_and_fractions_of_a_second_are_read() -> None:
    event = parse_event({**BASE, "ts": "2026-11-22T10:15:00.123456Z"})
    assert event.ts == dt.datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=dt.UTC)


def test_a_batch_and_single_events_validate_alike() -> None:
    batch = [{**BASE, "event_id": f"e{i}", "ts": "2026-11-22T10:00:00Z", "tags": {"env": "prod"}} for i in range(5)]
    assert parse_events(batch) == [parse_event(e) for e in batch]
    assert all(isinstance(e, UsageEvent) for e in parse_events(iter(batch)))  # any iterable


def test_a_ready_made_event_passes_through() -> None:
    event = UsageEvent(service="openai", model="gpt-4o", usage={"input_tokens": 1})
    assert parse_events([event, BASE])[0] is event


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.text(),
        st.integers(min_value=0, max_value=10**12)
        | st.decimals(allow_nan=False, allow_infinity=False)
        | st.text()
        | json_values,
        max_size=6,
    )
)
def test_stored_json_is_exactly_what_json_dumps_writes(value: dict[str, Any]) -> None:
    assert to_json(value) == json.dumps(value, default=str)


def test_the_event_round_trips_through_its_json_form() -> None:
    event = parse_event({**BASE, "ts": "2026-11-22T10:00:00Z", "usage": {"input_tokens": 3, "audio_seconds": "1.5"}})
    dumped = event.model_dump(mode="json")
    assert parse_event(dumped) == event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"service": "anthropic", "agent": "a\x00b"}, "agent"),
        ({"service": "anthropic", "session_id": "room-\udc80"}, "session_id"),
        ({"service": "anthropic", "tags": {"env": "pr\x00d"}}, "tags"),
        ({"service": "anthropic", "metadata": {"a": ["ok", {"b": "\ud800"}]}}, "metadata"),
    ],
)
def test_text_no_database_can_store_is_refused_with_its_field(event: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_events([{"service": "openai"}, event])
    assert [(index, name) for index, name, _ in caught.value.errors] == [(1, field)]
    with pytest.raises(InvalidEvent):
        parse_event(event)


def test_a_ledger_stores_nothing_of_a_batch_with_a_nul(ledger: Ledger) -> None:
    good = {"service": "deepgram", "model": "nova-3", "usage": {"audio_seconds": 1}, "event_id": "ok"}
    with pytest.raises(InvalidEvent):
        ledger.record_many([good, {**good, "event_id": "bad\x00"}])
    assert ledger.report([]) == []
