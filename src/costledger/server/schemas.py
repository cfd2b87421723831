"""The shapes the HTTP API answers with, as they appear in /openapi.json. Money is a decimal string."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..events import UsageEvent

MAX_BATCH_EVENTS = 1000
MAX_BODY_BYTES = 5 * 1024 * 1024

EXAMPLE_EVENT: dict[str, Any] = {
    "event_id": "room-42/scholar/1",
    "ts": "2026-11-22T10:15:00Z",
    "service": "anthropic",
    "model": "claude-sonnet-4-20250514",
    "operation": "llm_completion",
    "usage": {"input_tokens": 8000, "output_tokens": 350},
    "session_id": "room-42",
    "user_id": "u_17",
    "tier": "creator",
    "agent": "scholar",
    "mode": "combined",
    "tags": {"env": "prod"},
}


def event_batch_schema() -> dict[str, Any]:
    """The request body of POST /v1/events, from the same model that validates it."""
    return {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {"type": "array", "maxItems": MAX_BATCH_EVENTS, "items": UsageEvent.model_json_schema()}
        },
        "example": {"events": [EXAMPLE_EVENT]},
    }


class FieldError(BaseModel):
    index: int | None = Field(description="the event's position in the batch (null: the request itself)")
    field: str = Field(description="the field path, such as usage.input_tokens or query.days")
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldError] = Field(default_factory=list)

    model_config = {
        "json_schema_extra": {
            "example": {
                "detail": "invalid batch: nothing was stored",
                "errors": [{"index": 3, "field": "usage.input_tokens", "message": "must not be negative (-5)"}],
            }
        }
    }


class RecordedOut(BaseModel):
    accepted: int = Field(description="new events stored")
    duplicates: int = Field(description="events whose event_id was already stored; not counted again")
    unpriced: int = Field(description="new events no price is known for (stored with cost null)")
    cost_usd: str = Field(description="cost of the new priced events, decimal string")

    model_config = {"json_schema_extra": {"example": {"accepted": 2, "duplicates": 1, "unpriced": 0,
                                                      "cost_usd": "0.02925"}}}  # fmt: skip


class CostRow(BaseModel):
    group: dict[str, str | None] = Field(description="the value of each group_by dimension")
    events: int
    unpriced: int
    cost_usd: str


class CostsOut(BaseModel):
    group_by: list[str]
    since: str | None
    until: str | None
    events: int
    unpriced: int
    cost_usd: str
    rows: list[CostRow]

    model_config = {
        "json_schema_extra": {
            "example": {
                "group_by": ["service"], "since": "2026-11-01", "until": None, "events": 12, "unpriced": 0,
                "cost_usd": "1.2931",
                "rows": [{"group": {"service": "anthropic"}, "events": 9, "unpriced": 0, "cost_usd": "1.1"},
                         {"group": {"service": "deepgram"}, "events": 3, "unpriced": 0, "cost_usd": "0.1931"}],
            }
        }
    }  # fmt: skip


class DayRow(BaseModel):
    day: str
    events: int
    unpriced: int
    cost_usd: str


class DailyOut(BaseModel):
    days: int
    since: str
    until: str
    cost_usd: str
    rows: list[DayRow]

    model_config = {
        "json_schema_extra": {
            "example": {"days": 2, "since": "2026-11-21", "until": "2026-11-22", "cost_usd": "3.5",
                        "rows": [{"day": "2026-11-21", "events": 0, "unpriced": 0, "cost_usd": "0"},
                                 {"day": "2026-11-22", "events": 40, "unpriced": 1, "cost_usd": "3.5"}]}
        }
    }  # fmt: skip


class SessionOut(BaseModel):
    session_id: str
    user_id: str | None
    tier: str | None
    mode: str | None
    started_at: str
    ended_at: str
    duration_seconds: float
    events: int
    unpriced: int
    cost_usd: str
    by_service: dict[str, str]
    by_agent: dict[str, str]


class SessionsOut(BaseModel):
    total: int
    limit: int
    offset: int
    sessions: list[SessionOut]


class EventOut(BaseModel):
    event_id: str
    ts: str
    service: str
    model: str | None
    operation: str | None
    agent: str | None
    usage: dict[str, Any]
    cost_usd: str | None
    cost_source: str | None
    price_ref: str | None
    unpriced_reason: str | None
    tags: dict[str, str]


class SessionDetailOut(BaseModel):
    session: SessionOut
    events: list[EventOut]


class PriceOut(BaseModel):
    service: str
    model: str | None
    rates: list[str]
    since: str | None
    kind: str
    source: str
    price_ref: str
    service_tier: str | None = None
    plan: str | None = None
    confidence: str = Field("", description="published | unconfirmed | genai-prices | yours")
    read: str | None = Field(None, description="when the source page was read")
    granularity: str = Field("", description="how the provider bills: per second, rounded up per call…")
    note: str = ""


class PriceDataOut(BaseModel):
    package: str
    origin: str = Field(description="bundled (with the package) or fetched (costledger prices update)")
    source: str
    fetched_at: str | None
    data_date: str | None = Field(description="the latest dated price in the data")


class PricesOut(BaseModel):
    at: str
    data: PriceDataOut | None = None
    prices: list[PriceOut]


class HealthOut(BaseModel):
    status: str
    database: str

    model_config = {"json_schema_extra": {"example": {"status": "ok", "database": "postgresql"}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error statuses a route can answer with."""
    text = {
        401: "no key, or an unknown or revoked key",
        403: "the key's scope does not allow this",
        404: "not found",
        413: "more than 1,000 events or 5 MB",
        422: "invalid request; for a batch, one error per event and nothing stored",
        503: "the storage is unavailable (down, full, locked): retry after Retry-After seconds; the detail says why",
    }
    # Any route that reads or writes the database can meet an outage.
    return {code: {"model": ErrorBody, "description": text[code]} for code in (*codes, 503)}


def links(**targets: tuple[str, dict[str, str]]) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI 200 response's links: name → (operationId, its parameters as runtime expressions), so
    clients and stateful testers (schemathesis) can follow one answer to the next request."""
    return {200: {"description": "Successful Response", "links": {
        name: {"operationId": operation, "parameters": parameters} for name, (operation, parameters) in targets.items()
    }}}  # fmt: skip
