"""POST /v1/traces: OTLP/HTTP trace exports whose gen_ai spans become usage events."""

from __future__ import annotations

import gzip
import zlib

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidEvent
from ..events import parse_events
from ..integrations.opentelemetry import JSON, PROTOBUF, InvalidTraces, read_otlp
from ..ledger import Ledger, Recorded
from .deps import IngestKey, LedgerDep
from .events import read_capped
from .metrics import BATCHES_REFUSED, record_counted
from .schemas import MAX_BODY_BYTES, errors

router = APIRouter(tags=["events"])


def _decompress(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    try:
        if encoding == "gzip":
            # Bounded: a small gzip bomb must not become gigabytes in memory.
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_BODY_BYTES + 1)
        elif encoding == "deflate":
            out = zlib.decompressobj().decompress(body, MAX_BODY_BYTES + 1)
        elif encoding == "identity":
            return body
        else:
            raise HTTPException(415, f"content-encoding {encoding!r}: send gzip, deflate or none")
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise HTTPException(400, f"the body is not valid {encoding} ({exc})") from None
    if len(out) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the decompressed body is over {MAX_BODY_BYTES:,} bytes")
    return out


def record_traces(ledger: Ledger, body: bytes, content_type: str) -> tuple[Recorded, list[str]]:
    """Record the export's good spans; the rejected ones (a reason each) do not stop the others."""
    try:
        export = read_otlp(body, content_type)
    except InvalidTraces as exc:
        BATCHES_REFUSED.labels("invalid").inc()
        raise HTTPException(400, str(exc)) from None
    events, rejected = export.events, list(export.rejected)
    try:
        parse_events(events, custom_meters=ledger.catalog.custom_meters)
    except InvalidEvent as exc:
        bad = {index for index, _, _ in exc.errors}
        for index, field, message in exc.errors:
            span = events[index]["metadata"].get("span_id") if index is not None else None
            rejected.append(f"span {span!r}: {field}: {message}")
        events = [event for index, event in enumerate(events) if index not in bad]
    return record_counted(ledger, events), rejected


def _answer(content_type: str, rejected: list[str]) -> tuple[bytes, str]:
    """An OTLP ExportTraceServiceResponse, with partial_success when spans were rejected."""
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    answer = ExportTraceServiceResponse()
    if rejected:
        shown = "; ".join(rejected[:10]) + (f"; and {len(rejected) - 10} more" if len(rejected) > 10 else "")
        answer.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=len(rejected), error_message=shown))
    if content_type.split(";")[0].strip().lower() == PROTOBUF:
        return answer.SerializeToString(), PROTOBUF
    return MessageToJson(answer, indent=None).encode(), JSON


@router.post(
    "/v1/traces",
    summary="Ingest OpenTelemetry spans (OTLP/HTTP, protobuf or JSON)",
    description="Point an OTLP/HTTP trace exporter here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with "
    "`Authorization=Bearer <ingest key>` in its headers). Every span with gen_ai token usage becomes a usage "
    "event whose event_id is the provider's response id (else `otel:<trace id>:<span id>`), so a re-sent "
    "export, or the same call seen by several instrumentations, counts once; other spans are ignored. The "
    "answer is an OTLP ExportTraceServiceResponse in the request's format; spans that cannot be read or "
    "priced are counted in its partial_success (rejected_spans, error_message) while the others are stored. "
    "The counts are in the X-Costledger-Accepted, -Duplicates, -Unpriced and -Rejected headers.",
    responses={**errors(401, 403, 413, 422), 400: {"description": "not an OTLP trace export"}},
    openapi_extra={"requestBody": {"required": True, "content": {PROTOBUF: {}, JSON: {}}}},
)
async def post_traces(request: Request, ledger: LedgerDep, _key: IngestKey) -> Response:
    content_type = request.headers.get("content-type", "")
    body = _decompress(await read_capped(request), request.headers.get("content-encoding"))
    recorded, rejected = await run_in_threadpool(record_traces, ledger, body, content_type)
    headers = {
        "X-Costledger-Accepted": str(recorded.accepted),
        "X-Costledger-Duplicates": str(recorded.duplicates),
        "X-Costledger-Unpriced": str(recorded.unpriced),
        "X-Costledger-Rejected": str(len(rejected)),
    }
    content, media_type = _answer(content_type, rejected)
    return Response(content, media_type=media_type, headers=headers)
