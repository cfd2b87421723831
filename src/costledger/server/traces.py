"""POST /v1/traces: OTLP/HTTP trace exports whose gen_ai spans become usage events."""

from __future__ import annotations

import gzip
import zlib

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from ..integrations.opentelemetry import JSON, PROTOBUF, InvalidTraces, events_from_otlp
from ..ledger import Ledger, Recorded
from .cardinality import Cardinality
from .deps import IngestKey, LedgerDep
from .events import cardinality_of, read_capped, record_limited
from .metrics import BATCHES_REFUSED
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


def record_traces(ledger: Ledger, body: bytes, content_type: str, cardinality: Cardinality | None = None) -> Recorded:
    try:
        events = events_from_otlp(body, content_type)
    except InvalidTraces as exc:
        BATCHES_REFUSED.labels("invalid").inc()
        raise HTTPException(400, str(exc)) from None
    return record_limited(ledger, events, cardinality)


@router.post(
    "/v1/traces",
    summary="Ingest OpenTelemetry spans (OTLP/HTTP, protobuf or JSON)",
    description="Point an OTLP/HTTP trace exporter here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with "
    "`Authorization=Bearer <ingest key>` in its headers). Every span with gen_ai token usage becomes a usage "
    "event whose event_id is `otel:<trace id>:<span id>`, so a re-sent export counts once; other spans are "
    "ignored. The answer is an OTLP ExportTraceServiceResponse in the request's format; the counts are in "
    "the X-Costledger-Accepted, -Duplicates and -Unpriced headers.",
    responses={**errors(401, 403, 413, 422), 400: {"description": "not an OTLP trace export"}},
    openapi_extra={"requestBody": {"required": True, "content": {PROTOBUF: {}, JSON: {}}}},
)
async def post_traces(request: Request, ledger: LedgerDep, key: IngestKey) -> Response:
    content_type = request.headers.get("content-type", "")
    body = _decompress(await read_capped(request), request.headers.get("content-encoding"))
    recorded = await run_in_threadpool(record_traces, ledger, body, content_type, cardinality_of(request, key))
    headers = {
        "X-Costledger-Accepted": str(recorded.accepted),
        "X-Costledger-Duplicates": str(recorded.duplicates),
        "X-Costledger-Unpriced": str(recorded.unpriced),
    }
    if content_type.split(";")[0].strip().lower() == PROTOBUF:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF, headers=headers)
    return Response(b"{}", media_type=JSON, headers=headers)
