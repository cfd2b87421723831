"""The usage event: the one input. Validation and normalisation (DESIGN section 1)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from json.encoder import encode_basestring_ascii as _quote
from operator import attrgetter
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from . import clock
from .dates import INSTANT, check_instant
from .errors import InvalidEvent
from .jsontext import problem
from .money import MAX_EVENT_USD, usd
from .pricing.meters import STANDARD_METERS, Quantity, quantity, readings

MAX_TAGS = 64
MAX_ID_LENGTH = 256
MAX_EVENT_ID_LENGTH = 128
MAX_METADATA_BYTES = 64 * 1024

# The fields an event has besides its meters; used to split `record(**kwargs)`.
DIMENSIONS = ("session_id", "user_id", "tier", "agent", "mode", "endpoint")


def _uuid7(ms: int, random_bits: int) -> str:
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (random_bits >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | random_bits & 0x3FFF_FFFF_FFFF_FFFF
    )
    return f"{value:032x}"


def event_id_at(instant: datetime, random_bits: int) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: `instant`'s Unix milliseconds (48 bits), the version,
    74 of `random_bits` and the variant.

    Time first, so ids made later sort later: the store's unique index on event_id then grows at
    its end, where a random id (uuid4) adds its key at a random page of an index that grows with
    the ledger, and a batch's commit writes about a page per event once that index outgrows it.
    """
    return _uuid7(clock.milliseconds_of(instant), random_bits)


def new_event_id() -> str:
    """The id of an event that came without one: a UUIDv7 of the clock's time (event_id_at).

    Its 74 random bits come from the operating system, as uuid4's do: processes forked from one
    parent share a seeded generator's state, and two equal ids would drop an event as a duplicate.
    """
    return _uuid7(clock.milliseconds(), int.from_bytes(os.urandom(10)))


def _now() -> datetime:
    return clock.now()


class UsageEvent(BaseModel):
    """One priced-or-to-be-priced thing that happened: tokens, audio, a payment…"""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=False)

    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=MAX_EVENT_ID_LENGTH)
    ts: AwareDatetime = Field(default_factory=_now)
    # Lower-cased by pydantic itself, after the length check, as str.lower() would.
    service: Annotated[str, StringConstraints(to_lower=True)] = Field(min_length=1, max_length=64)
    model: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    operation: str | None = Field(default=None, max_length=64)
    usage: dict[str, Quantity] = Field(default_factory=dict)
    # The provider's service tier (standard, batch, flex, priority, fast…): selects its price.
    service_tier: Annotated[str, StringConstraints(to_lower=True)] | None = Field(default=None, max_length=64)
    cost_usd: Decimal | None = None
    # The cost a previous tracker recorded (imports): kept for comparison, never summed.
    recorded_cost_usd: Decimal | None = None
    session_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    user_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    tier: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    agent: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    mode: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    endpoint: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts", mode="before")
    @classmethod
    def _ts_text(cls, value: object) -> object:
        # RFC 3339 text or a datetime, nothing else (pydantic alone would take epoch numbers and other forms).
        if type(value) is str:
            if not INSTANT.fullmatch(value):
                raise ValueError(f"must be an RFC 3339 time such as 2026-11-22T10:15:00Z, not {value!r}")
        elif not isinstance(value, datetime):
            raise ValueError(f"must be an RFC 3339 time such as 2026-11-22T10:15:00Z, not {type(value).__name__}")
        return value

    @field_validator("ts", mode="after")
    @classmethod
    def _ts_utc(cls, value: datetime) -> datetime:
        if 2000 < value.year < 2099:  # no offset moves such a time out of the window: no comparison needed
            return value.astimezone(UTC)
        return check_instant(value)

    @field_validator("usage", mode="before")
    @classmethod
    def _usage(cls, value: object, info: ValidationInfo) -> dict[str, Quantity]:
        if not isinstance(value, Mapping):
            raise ValueError("usage must be an object of meter → number")
        custom: frozenset[str] = (info.context or {}).get("custom_meters", frozenset())
        return readings(value, custom, prefix="usage.")

    @field_validator("cost_usd", "recorded_cost_usd", mode="before")
    @classmethod
    def _money(cls, value: object, info: ValidationInfo) -> Quantity | None:
        if value is None:
            return None
        amount = Decimal(quantity(value, str(info.field_name)))
        if amount > MAX_EVENT_USD:
            raise ValueError(f"{info.field_name} is {usd(amount)}; one event may cost at most {usd(MAX_EVENT_USD)}")
        return amount

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> object:
        if isinstance(value, Mapping):
            if len(value) > MAX_TAGS:
                raise ValueError(f"at most {MAX_TAGS} tags ({len(value)} given)")
            for key, tag in value.items():
                if not isinstance(tag, str):
                    raise ValueError(f"tag {key!r} must be a string, not {type(tag).__name__}")
                if len(str(key)) > MAX_ID_LENGTH or len(tag) > MAX_ID_LENGTH:
                    raise ValueError(f"tag {key!r} is longer than {MAX_ID_LENGTH} characters")
        return value

    @field_validator("metadata", mode="after")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return value
        why = problem(value)  # before dumping it: a deep enough value is a RecursionError there
        if why:
            raise ValueError(f"metadata: {why}")
        try:
            size = len(json.dumps(value, default=str))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-serialisable ({exc})") from None
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes; at most {MAX_METADATA_BYTES}")
        return value


def _errors(exc: ValidationError, index: int | None) -> list[tuple[int | None, str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        out.append((index, field, message))
    return out


@functools.cache
def _batch_adapter() -> TypeAdapter[list[UsageEvent]]:
    # Built on first use: a TypeAdapter costs milliseconds that `import costledger` must not pay.
    return TypeAdapter(list[UsageEvent])


def _batch_errors(exc: ValidationError) -> list[tuple[int | None, str, str]]:
    """Errors of a batch validation, by event index and field, as one event's validation names them."""
    out: list[tuple[int | None, str, str]] = []
    for err in exc.errors(include_url=False):
        index, *loc = err["loc"]
        field = ".".join(str(part) for part in loc)
        out.append((int(index), field, err["msg"].removeprefix("Value error, ")))
    return out


_JSON = json.JSONEncoder(default=str)


def to_json(value: Mapping[str, Any]) -> str:
    """usage, tags or metadata as the store keeps them: the text of `json.dumps(value, default=str)`.

    Usage (meter → int or Decimal) and tags (str → str) are written directly with json's own
    string escaping: per event, setting up the general encoder cost more than the writing.
    """
    if not value:
        return "{}"
    parts = []
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return _JSON.encode(value)
        if kind is str:
            parts.append(f"{_quote(key)}: {_quote(item)}")
        elif kind is int:
            parts.append(f"{_quote(key)}: {item}")
        elif kind is Decimal:
            parts.append(f"{_quote(key)}: {_quote(str(item))}")
        else:
            return _JSON.encode(value)
    return "{" + ", ".join(parts) + "}"


def parse_event(data: UsageEvent | Mapping[str, Any], *, custom_meters: frozenset[str] = frozenset()) -> UsageEvent:
    """Validate one event; raise InvalidEvent naming each bad field."""
    return parse_events([data], custom_meters=custom_meters, single=True)[0]


def parse_events(
    batch: Iterable[UsageEvent | Mapping[str, Any]],
    *,
    custom_meters: frozenset[str] = frozenset(),
    single: bool = False,
) -> list[UsageEvent]:
    """Validate a whole batch before anything is stored: one bad event refuses all of it."""
    context = {"custom_meters": custom_meters}
    items = batch if isinstance(batch, list) else list(batch)
    if not single and all(type(item) is dict for item in items):
        # The common case (JSON from a client): one validator call for the whole batch.
        try:
            parsed: list[UsageEvent] = _batch_adapter().validate_python(items, context=context)
        except ValidationError as exc:
            raise InvalidEvent(_batch_errors(exc)) from None
        return _storable(parsed, single)
    events: list[UsageEvent] = []
    errors: list[tuple[int | None, str, str]] = []
    for index, item in enumerate(items):
        where = None if single else index
        if isinstance(item, UsageEvent):
            unknown = [m for m in item.usage if m not in STANDARD_METERS and m not in custom_meters]
            if unknown:
                errors.append((where, f"usage.{unknown[0]}", f"unknown meter {unknown[0]!r}"))
            events.append(item)
            continue
        if not isinstance(item, Mapping):
            errors.append((where, "", f"an event must be a JSON object, not {type(item).__name__}"))
            continue
        try:
            events.append(UsageEvent.model_validate(item, context=context))
        except ValidationError as exc:
            errors.extend(_errors(exc, where))
    if errors:
        raise InvalidEvent(errors)
    return _storable(events, single)


# The columns stored as text. Tags and metadata are stored as JSON that escapes such
# characters, but PostgreSQL's jsonb (tag filters) refuses the escapes too, so they are checked as well.
_TEXT_FIELDS = ("event_id", "service", "model", "operation", "session_id", "user_id", "tier", "agent", "mode",
                "endpoint", "service_tier")  # fmt: skip


def storable(text: str) -> bool:
    """False for NUL characters (PostgreSQL refuses them) and unpaired surrogates (not UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable_json(value: Any) -> bool:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, Mapping):
        return all(_storable_json(k) and _storable_json(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_storable_json(v) for v in value)
    return True


_texts = attrgetter(*_TEXT_FIELDS)


def _storable(events: list[UsageEvent], single: bool) -> list[UsageEvent]:
    # The whole batch's text checked as one string first (one pass in C); event by event only to name
    # what is wrong.
    parts: list[str] = []
    for event in events:
        parts.extend(filter(None, _texts(event)))
        if event.tags:
            parts.extend(chain.from_iterable(event.tags.items()))
    text = "".join(parts)
    if not text.isascii():
        # Lower-casing can lengthen text (İ is two code points in lower case), after pydantic measured it:
        # measured again here, so the database never cuts a service name.
        long = [(None if single else i, "service", f"is {len(e.service)} characters in lower case; at most 64")
                for i, e in enumerate(events) if len(e.service) > 64]  # fmt: skip
        if long:
            raise InvalidEvent(long)
    if storable(text) and all(_storable_json(e.metadata) for e in events if e.metadata):
        return events
    errors: list[tuple[int | None, str, str]] = []
    message = "must not contain NUL characters or unpaired surrogates"
    for index, event in enumerate(events):
        where = None if single else index
        values = [getattr(event, name) or "" for name in _TEXT_FIELDS]
        if not storable("".join(values)):
            errors.extend((where, n, message) for n, v in zip(_TEXT_FIELDS, values, strict=True) if not storable(v))
        if event.tags and not storable("".join(k + v for k, v in event.tags.items())):
            errors.append((where, "tags", message))
        if event.metadata and not _storable_json(event.metadata):
            errors.append((where, "metadata", message))
    if errors:
        raise InvalidEvent(errors)
    return events


# Read once: UsageEvent.model_fields is a pydantic class property, slow to ask on every record().
_EVENT_FIELDS = frozenset(UsageEvent.model_fields)


def split_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `record(..., input_tokens=8000, agent="scholar")` keywords into event fields and meters."""
    top = {k: v for k, v in fields.items() if k in _EVENT_FIELDS}
    meters = {k: v for k, v in fields.items() if k not in _EVENT_FIELDS}
    return top, meters


def dump_event(event: UsageEvent) -> dict[str, Any]:
    """The event as JSON-ready data (decimals as strings)."""
    return event.model_dump(mode="json")


__all__: Sequence[str] = [
    "DIMENSIONS",
    "UsageEvent",
    "dump_event",
    "event_id_at",
    "new_event_id",
    "parse_event",
    "parse_events",
    "quantity",
    "split_fields",
    "to_json",
]
