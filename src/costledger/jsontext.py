"""Reading JSON as strictly as RFC 8259 writes it, with bounds, for every JSON body a client sends.

Python's json module is looser: it takes NaN and Infinity, keeps the last of duplicate keys (the
first one is silently lost), reads UTF-16 and UTF-32, and raises a plain ValueError (not a decode
error) on an integer of more than 4,300 digits or RecursionError on deep nesting. Here each is
refused with a reason. Numbers are checked where they are used (a meter, an amount: exact and
finite), and free-form values (an event's metadata) by `problem`: finite numbers, at most
MAX_DEPTH deep; so a batch is parsed at the C parser's speed, with one hook per object for
duplicate keys.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32  # objects and arrays inside one another, in an event's metadata


class StrictJSONError(ValueError):
    """Not JSON, or JSON this service does not take: the message says which."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return found


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not JSON")


def problem(value: Any) -> str | None:
    """What keeps a parsed free-form value (metadata) from being stored as JSON: nesting deeper than
    MAX_DEPTH, or a number that is not finite (1e400 read as inf). None when there is nothing. No recursion."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a finite number"
        if isinstance(item, dict | list | tuple):
            if level >= MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return None


def loads(body: bytes | str) -> Any:
    """The JSON value of `body` (UTF-8); StrictJSONError saying what is wrong if it is not taken."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body  # RFC 8259: UTF-8, nothing else
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("nested too deep") from None
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:  # json.JSONDecodeError, and an integer of more than 4,300 digits
        raise StrictJSONError(f"not valid JSON ({str(exc)[:200]})") from None


__all__ = ["MAX_DEPTH", "StrictJSONError", "loads", "problem"]
