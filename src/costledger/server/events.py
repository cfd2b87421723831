"""POST /v1/events: a batch of usage events, stored whole or not at all, durable before the 200."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from .. import jsontext
from ..errors import InvalidEvent
from ..events import parse_events
from ..keys import ApiKey
from ..ledger import Ledger, Recorded
from .cardinality import Cardinality
from .deps import IngestKey, LedgerDep
from .metrics import BATCHES_REFUSED, record_counted
from .schemas import MAX_BATCH_EVENTS, MAX_BODY_BYTES, RecordedOut, errors, event_batch_schema, links

router = APIRouter(tags=["events"])


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (a declared length is checked first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        BATCHES_REFUSED.labels("too_large").inc()
        raise HTTPException(413, f"the body is {int(declared):,} bytes; at most {limit:,} per request")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            BATCHES_REFUSED.labels("too_large").inc()
            raise HTTPException(413, f"the body is over {limit:,} bytes; at most {limit:,} per request")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_batch(body: bytes) -> list[Any]:
    try:
        data = jsontext.loads(body)
    except jsontext.StrictJSONError as exc:
        raise InvalidEvent([(None, "body", str(exc))]) from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidEvent([(None, "events", 'the body must be {"events": [...]}')])
    extra = sorted(set(data) - {"events"})
    if extra:
        raise InvalidEvent([(None, extra[0], 'unknown field; the body is {"events": [...]}')])
    batch: list[Any] = data["events"]
    if len(batch) > MAX_BATCH_EVENTS:
        BATCHES_REFUSED.labels("too_many").inc()
        raise HTTPException(413, f"{len(batch):,} events in one request; at most {MAX_BATCH_EVENTS:,}")
    return batch


def record_limited(ledger: Ledger, batch: Sequence[Any], cardinality: Cardinality | None) -> Recorded:
    """record_counted, keeping the day's cap on new service and model names (None: an admin key, no cap)."""
    if cardinality is None:
        return record_counted(ledger, batch)
    events = parse_events(batch, custom_meters=ledger.catalog.custom_meters)
    refused = cardinality.refused(events)
    if refused:
        BATCHES_REFUSED.labels("cardinality").inc()
        raise InvalidEvent(refused)
    recorded = record_counted(ledger, events)
    cardinality.remember(events)
    return recorded


def cardinality_of(request: Request, key: ApiKey) -> Cardinality | None:
    """The cap that applies to this caller: ingest keys have one, admin keys none."""
    found: Cardinality | None = None if key.scope == "admin" else request.app.state.cardinality
    return found


def record_batch(ledger: Ledger, body: bytes, cardinality: Cardinality | None = None) -> Recorded:
    """Parse, validate and store one request's batch (runs on a worker thread: it blocks on the database)."""
    try:
        return record_limited(ledger, parse_batch(body), cardinality)
    except InvalidEvent:
        BATCHES_REFUSED.labels("invalid").inc()
        raise


@router.post(
    "/v1/events",
    response_model=RecordedOut,
    summary="Record a batch of usage events",
    description="Up to 1,000 events and 5 MB. The batch is validated whole: one invalid event refuses it "
    "(422, an error per event naming its index and field) and nothing is stored. Events are committed "
    "before the answer; an event_id seen before is not stored or counted again.",
    responses={
        **errors(401, 403, 413, 422),
        **links(
            session=("getSession", {"session_id": "$request.body#/events/0/session_id"}),
            costs=("getCosts", {"session": "$request.body#/events/0/session_id"}),
        ),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": event_batch_schema()}}}
    },
)
async def post_events(request: Request, ledger: LedgerDep, key: IngestKey) -> RecordedOut:
    body = await read_capped(request)
    recorded = await run_in_threadpool(record_batch, ledger, body, cardinality_of(request, key))
    data = recorded.as_dict()
    return RecordedOut(**data)
