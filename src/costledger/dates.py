"""The dates costledger takes: UTC instants and days from 2000-01-01 to 2099-12-31, written strictly.

Every way a time comes in — an event's `ts`, a query's since/until/month/at, a CLI option — is checked
against one window, so that no stored date and no date asked about sits where a day's or a month's
arithmetic (the day after, the month after, a 30-day window) leaves what the calendar, Python's
datetime or a database can hold. The window is wide for usage data (nothing is billed per token
before 2000) and leaves room around it for that arithmetic.

Text is strict: an instant is RFC 3339 (`2026-11-22T10:15:00Z`, seconds required, an offset `Z` or
`±HH:MM`), a day is `YYYY-MM-DD`, a month `YYYY-MM`. No epoch numbers, no other ISO 8601 forms.
"""

from __future__ import annotations

import datetime as dt
import re

FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
# Instants as UTC: FIRST <= instant < END.
FIRST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
WINDOW = "2000-01-01 to 2099-12-31 (UTC)"

# RFC 3339 section 5.6: full-date "T" full-time; `T` and `Z` may be lower case, a space may stand for `T`.
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def check_instant(value: dt.datetime) -> dt.datetime:
    """An aware datetime inside the window, as UTC; ValueError (a message to put after the field's name) if not."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a UTC offset, such as 2026-11-22T10:15:00Z")
    try:
        utc = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):  # its UTC form leaves years 1-9999
        utc = None
    if utc is None or not FIRST <= utc < END:
        raise ValueError(f"must be from {WINDOW}, not {value.isoformat()}")
    return utc


def parse_instant(text: str) -> dt.datetime:
    """An RFC 3339 instant inside the window, as UTC; ValueError if not."""
    if not INSTANT.fullmatch(text):
        raise ValueError(f"must be an RFC 3339 time such as 2026-11-22T10:15:00Z, not {text!r}")
    date, time = text[:10], text[11:].upper().replace("Z", "+00:00")
    fraction = re.search(r"\.(\d+)", time)
    if fraction:  # Python keeps microseconds; finer digits are cut
        time = time.replace(fraction.group(0), "." + (fraction.group(1) + "00000")[:6])
    try:
        moment = dt.datetime.fromisoformat(f"{date}T{time}")
    except ValueError:
        raise ValueError(f"is not a valid time: {text!r}") from None
    return check_instant(moment)


def check_day(day: dt.date) -> dt.date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be a day from {WINDOW}, not {day.isoformat()}")
    return day


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD day inside the window; ValueError if not."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"must be a day such as 2026-11-01, not {text!r}")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not a valid day: {text!r}") from None
    return check_day(day)


def parse_month(text: str) -> dt.date:
    """A YYYY-MM month inside the window, as its first day; ValueError if not."""
    if not _MONTH.fullmatch(text):
        raise ValueError(f"must be a month such as 2026-11, not {text!r}")
    return parse_day(text + "-01")


def clamp(day: dt.date) -> dt.date:
    """A stored day brought into the window (a ledger written before the window existed may hold any)."""
    return min(max(day, FIRST_DAY), LAST_DAY)


__all__ = ["END", "FIRST", "FIRST_DAY", "LAST_DAY", "WINDOW", "check_day", "check_instant", "clamp", "parse_day",
           "parse_instant", "parse_month"]  # fmt: skip
