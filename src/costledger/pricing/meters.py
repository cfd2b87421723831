"""The meters: what a usage event can count, in which unit, and which meters are parts of which.

The LLM meters are genai-prices' usage keys, whole, with its meaning: a unit is a set of
dimensions (family, direction, modality, token type, cache TTL…), and a unit whose dimensions
contain another's is a *part* of it. So `input_tokens` counts all prompt tokens, cached and
audio ones included, `cache_write_tokens` includes its 5-minute and 1-hour parts, and
`output_tokens` includes reasoning and audio output. Our own meters (room minutes, phone
minutes, payments, TTS characters) sit beside them.

genai-prices' unit table is read from its data file alone: importing the package costs a
quarter of a second that `import costledger` must not pay.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
from collections.abc import Container, Iterator, Mapping
from decimal import Decimal
from typing import Any

# Our meters that genai-prices has no unit for: (dimensions, description).
_OWN: dict[str, tuple[dict[str, str], str]] = {
    # A whole of genai-prices' input_characters (TTS text), which need not be given with it.
    "characters": ({"family": "characters"}, "characters synthesised (text-to-speech)"),
    "participant_minutes": ({"family": "participant_minutes"}, "realtime-room participant-minutes (older data)"),
    "agent_session_minutes": ({"family": "agent_session_minutes"}, "minutes an agent is connected to a session"),
    "webrtc_minutes": ({"family": "webrtc_minutes"}, "minutes a participant is connected over WebRTC"),
    "sip_minutes": ({"family": "sip_minutes"}, "minutes a caller is connected over SIP"),
    "phone_minutes": ({"family": "phone_minutes"}, "minutes of a phone call (telephony)"),
    "amount_usd": (
        {"family": "amount_usd"},
        "amount charged to a customer, in USD (payments: the fee is a share of it)",
    ),
}

_WORDS = {
    "cache_read": "read from the prompt cache",
    "cache_write": "written to the prompt cache",
    "reasoning": "of reasoning",
    "citation": "of citations",
    "tool": "of tool definitions",
}


def _genai_units() -> dict[str, Any]:
    """genai-prices' unit table (`genai_prices/data_units.py`), loaded without importing the package."""
    spec = importlib.util.find_spec("genai_prices")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        unit_spec = importlib.util.spec_from_file_location("costledger._genai_units", f"{location}/data_units.py")
        if unit_spec is not None and unit_spec.loader is not None:
            module = importlib.util.module_from_spec(unit_spec)
            unit_spec.loader.exec_module(module)
            units: dict[str, Any] = module.unit_data
            return units
    from genai_prices.data_units import unit_data  # a layout we do not know: pay for the import

    return dict(unit_data)


def _describe(name: str, dims: Mapping[str, str], per: int) -> str:
    family = dims.get("family", "")
    words = [dims.get("direction", ""), dims.get("modality", ""), family.replace("_", " ")]
    text = " ".join(w for w in words if w)
    extra = [_WORDS.get(dims.get("token_type", ""), dims.get("token_type", "").replace("_", " "))]
    if "cache_ttl" in dims:
        extra.append(f"with a {dims['cache_ttl']} TTL")
    extra += [v.replace("_", " ") for k, v in dims.items() if k not in ("family", "direction", "modality",
                                                                         "token_type", "cache_ttl")]  # fmt: skip
    return " ".join(w for w in [text, *extra] if w)


def _registry() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    dims: dict[str, dict[str, str]] = {}
    descriptions: dict[str, str] = {}
    for name, unit in _genai_units().items():
        dims[name] = dict(unit.get("dimensions", {}))
        descriptions[name] = _describe(name, dims[name], int(unit["per"]))
    for name, (own, text) in _OWN.items():
        dims[name] = own
        descriptions[name] = text
    return dims, descriptions


DIMENSIONS, _DESCRIPTIONS = _registry()
GENAI_METERS = frozenset(DIMENSIONS) - frozenset(_OWN)

# Strict ancestors of each meter: the wholes it is a part of (input_tokens ⊇ cache_read_tokens…).
ANCESTORS: dict[str, tuple[str, ...]] = {
    name: tuple(other for other, od in DIMENSIONS.items() if other != name and od.items() < dims.items())
    for name, dims in DIMENSIONS.items()
}
_BY_DIMS = {frozenset(dims.items()): name for name, dims in DIMENSIONS.items()}

for _name, _wholes in ANCESTORS.items():
    if _wholes:
        _DESCRIPTIONS[_name] += f" (part of {', '.join(_wholes)})"

_DESCRIPTIONS["input_tokens"] = "prompt tokens, cached, audio and image ones included"
_DESCRIPTIONS["output_tokens"] = "completion tokens, reasoning and audio ones included"
_DESCRIPTIONS["requests"] = "API requests"

STANDARD_METERS: dict[str, str] = dict(_DESCRIPTIONS)

# The cache parts of input_tokens that every SDK reports (the integrations add them up).
INPUT_PARTS = ("cache_read_tokens", "cache_write_tokens")

# A quantity above this is a bug in the caller (a timestamp in a token field, say).
MAX_QUANTITY = 10**12

Quantity = int | Decimal
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?")


def join(a: str, b: str) -> str | None:
    """The meter counting what two overlapping meters share (cache_read ∧ input_audio = cache_audio_read)."""
    da, db = DIMENSIONS.get(a), DIMENSIONS.get(b)
    if da is None or db is None or any(db.get(k, v) != v for k, v in da.items()):
        return None
    return _BY_DIMS.get(frozenset({**da, **db}.items()))


def quantity(value: object, what: str) -> Quantity:
    """One meter reading or money amount as an exact number, refusing what cannot be one."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        number: Quantity = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, not {value!r}")
        # repr gives the shortest decimal that round-trips: 0.1 stays 0.1.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        # Text as a JSON number is written (Decimal would also take "1_000", "１２", " 5 " and "NaN").
        if not _NUMBER.fullmatch(value):
            raise ValueError(f'{what} must be a number such as 12 or "0.5", not {value!r}')
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
        if not number.is_finite():
            raise ValueError(f"{what} must be finite, not {value!r}")
    else:
        raise ValueError(f"{what} must be a number, not {type(value).__name__}")
    if number < 0:
        raise ValueError(f"{what} must not be negative ({value!r})")
    if number > MAX_QUANTITY:
        raise ValueError(f"{what} is absurdly large ({value!r} > 1e12)")
    return number


# -- part-of checks ---------------------------------------------------------------------------
#
# For each whole that is given, every way of covering it by given parts that cannot overlap
# (different values of one dimension: cache reads vs writes, audio vs image, 5m vs 1h) must
# sum to no more than the whole. The checks depend only on which meters an event names, so
# they are worked out once per set of names.

Check = tuple[str, tuple[str, ...]]  # (whole, disjoint parts)
_MAX_COVERS = 64  # a bound on the combinations one whole is checked with (a client may name many meters)


def _covers(common: dict[str, str], members: list[str]) -> Iterator[tuple[str, ...]]:
    """Sets of `members` that cannot overlap and all lie within `common`'s dimensions."""
    keys = sorted({k for m in members for k in DIMENSIONS[m] if k not in common})
    for key in keys:
        groups: dict[str, list[str]] = {}
        for member in members:
            value = DIMENSIONS[member].get(key)
            if value is not None:
                groups.setdefault(value, []).append(member)
        options: list[list[tuple[str, ...]]] = []
        for value, group in sorted(groups.items()):
            narrower = {**common, key: value}
            exact = [(m,) for m in group if DIMENSIONS[m] == narrower]
            rest = [m for m in group if DIMENSIONS[m] != narrower]
            options.append(exact + (list(itertools.islice(_covers(narrower, rest), _MAX_COVERS)) if rest else []))
        for choice in itertools.islice(itertools.product(*options), _MAX_COVERS):
            yield tuple(m for part in choice for m in part)


def _checks(names: frozenset[str]) -> tuple[Check, ...]:
    found: set[Check] = set()
    known = sorted(n for n in names if n in DIMENSIONS)
    for whole in known:
        wd = DIMENSIONS[whole]
        parts = [n for n in known if n != whole and wd.items() < DIMENSIONS[n].items()]
        if parts:
            found.update((whole, tuple(sorted(c))) for c in itertools.islice(_covers(dict(wd), parts), _MAX_COVERS))
    # One part before sums of several: the message names the part that is too large.
    return tuple(sorted(found, key=lambda c: (len(c[1]), c)))


def _plan(names: frozenset[str]) -> tuple[tuple[tuple[str, str], ...], tuple[Check, ...]]:
    """(part, whole) pairs whose whole must be given when the part is not zero, and the sum checks."""
    wholes = tuple(
        (name, whole)
        for name in sorted(names & DIMENSIONS.keys())
        for whole in ANCESTORS[name]
        if whole not in names and whole in GENAI_METERS
    )
    return wholes, _checks(names)


_PLANS: dict[tuple[str, ...], tuple[tuple[tuple[str, str], ...], tuple[Check, ...]]] = {}


def _plan_of(names: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], tuple[Check, ...]]:
    plan = _plan(frozenset(names))
    if len(_PLANS) > 4096:  # bounded: each distinct set of meter names adds one
        _PLANS.clear()
    _PLANS[names] = plan
    return plan


def _check_parts(out: Mapping[str, Quantity], prefix: str, wholes: tuple[tuple[str, str], ...],
                 checks: tuple[Check, ...]) -> None:  # fmt: skip
    for name, whole in wholes:
        if out[name]:
            raise ValueError(
                f"{prefix}{name} ({out[name]}) is part of {prefix}{whole}, which is not given:"
                f" {whole} counts all of its parts and must be given with them"
            )
    for whole, parts in checks:
        total = out[parts[0]] if len(parts) == 1 else sum(out[p] for p in parts)
        if total <= out[whole]:
            continue
        if len(parts) == 1:
            raise ValueError(
                f"{prefix}{parts[0]} ({total}) exceeds {prefix}{whole} ({out[whole]}):"
                f" {parts[0]} is a part of {whole}, which counts all of it"
            )
        named = " + ".join(f"{prefix}{p}" for p in parts)
        raise ValueError(
            f"{named} ({total}) exceed {prefix}{whole} ({out[whole]}): these parts cannot overlap,"
            f" and {whole} counts all of them"
        )


def readings(
    usage: Mapping[str, object], custom_meters: Container[str] = frozenset(), prefix: str = ""
) -> dict[str, Quantity]:
    """Meter readings as exact numbers, by the rules every way in shares (the event, `price()`, the CLI).

    Refuses unknown meters, bad quantities, and parts larger than the whole they are part of
    (priced anyway, they would make the rest of the whole negative). `prefix` names the field in messages.
    """
    out: dict[str, Quantity] = {}
    for meter, reading in usage.items():
        if meter not in STANDARD_METERS and meter not in custom_meters:
            raise ValueError(
                f"unknown meter {meter!r}; meters are genai-prices' usage keys (input_tokens, output_tokens,"
                " cache_read_tokens, cache_write_5m_tokens, input_audio_tokens, …) and ours"
                f" ({', '.join(_OWN)}); a custom meter must be priced in costledger.toml"
            )
        if type(reading) is int and 0 <= reading <= MAX_QUANTITY:
            out[meter] = reading  # what quantity() returns for it, without the call: the common case
        else:
            out[meter] = quantity(reading, f"{prefix}{meter}")
    # The checks are worked out once per list of names, in the order given: events from one
    # source name their meters alike, and a tuple is quicker to make than a frozenset.
    wholes, checks = _PLANS.get(names := tuple(out)) or _plan_of(names)
    if wholes or checks:
        _check_parts(out, prefix, wholes, checks)
    return out
