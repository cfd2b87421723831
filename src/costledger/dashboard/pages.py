"""What a page is (cards, charts, tables), the date range every page reads, and its presets.

A page is built from the library (no HTTP in it), so the same numbers can be checked
against the API and the store directly. Every figure follows the selected range and
filters; the month-to-date and forecast cards say that they are the month's.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..dates import FIRST_DAY
from ..store import Filters
from ..total_cost import CostParts
from .charts import Chart
from .tables import PAGE_SIZE, Table, money_text, share_text

DEFAULT_DAYS = 30
_ZERO = Decimal(0)

# What the service breakdown calls each service: LLM vs speech vs rooms vs payments.
KIND_OF_SERVICE = {
    "anthropic": "LLM", "openai": "LLM", "google": "LLM", "mistral": "LLM", "groq": "LLM",
    "deepgram": "STT", "assemblyai": "STT", "cartesia": "TTS", "elevenlabs": "TTS",
    "livekit": "rooms", "twilio": "phone", "stripe": "payments",
}  # fmt: skip
# What the page calls each part of the whole cost, and says about it.
PARTS = {
    "metered": ("Metered spend", "what the recorded events cost, priced per use"),
    "extra": ("Per-session extra", "[[session_types]] extra_cost_usd × that mode's sessions"),
    "fixed": ("Fixed costs", "[[fixed_costs]] per month, allocated per day"),
}


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    note: str = ""
    key: str = ""  # a stable name tests and scripts can find the card by
    warn: bool = False
    href: str | None = None  # the card is a link (to the sessions it counts, the alerts…)
    delta: str = ""  # the change against the previous period, as people read it
    tone: str = ""  # good | bad | "" — the delta's colour (for a cost, up is bad)
    state: str = ""  # loss | thin | ok — a margin card's colour
    badge: str = ""  # a verdict shown before the value ("loses money at its limit")
    badge_state: str = ""  # loss | thin | ok


@dataclass
class Page:
    title: str
    cards: list[Card] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the page counts, and what it does not

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def window(filters: Filters, today: dt.date, days: int = DEFAULT_DAYS) -> Filters:
    """The filters with a date range: the one asked for, else the `days` up to today."""
    until = filters.until or today
    since = filters.since or max(until - dt.timedelta(days=days - 1), FIRST_DAY)
    return replace(filters, since=since, until=until)


def bounds(filters: Filters) -> tuple[dt.date, dt.date]:
    assert filters.since is not None and filters.until is not None, "window() first"
    return filters.since, filters.until


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    since: dt.date
    until: dt.date


def presets(today: dt.date) -> list[Preset]:
    """The ranges people ask for most, as of today."""
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    return [
        Preset("today", "Today", today, today),
        Preset("7d", "7 days", today - dt.timedelta(days=6), today),
        Preset("30d", "30 days", today - dt.timedelta(days=29), today),
        Preset("mtd", "Month to date", first, today),
        Preset("last-month", "Last month", last_month_end.replace(day=1), last_month_end),
        Preset("90d", "90 days", today - dt.timedelta(days=89), today),
    ]


def span(since: dt.date, until: dt.date) -> str:
    """'Nov 1 – Nov 30, 2026', 'Dec 1, 2026', 'Nov 2025 – Jan 2026' as people write ranges."""
    if since == until:
        return f"{since:%b} {since.day}, {since.year}"
    whole_month = since.day == 1 and until == since.replace(day=calendar.monthrange(since.year, since.month)[1])
    if whole_month:
        return f"{since:%b %Y}"
    left = f"{since:%b} {since.day}" + ("" if since.year == until.year else f", {since.year}")
    return f"{left} – {until:%b} {until.day}, {until.year}"


def before_label(since: dt.date, until: dt.date) -> str:
    """What a delta compares with: 'previous 30 days', 'previous day'."""
    days = (until - since).days + 1
    return "previous day" if days == 1 else f"previous {days} days"


def money(amount: Decimal | None) -> str:
    return "—" if amount is None else money_text(amount.quantize(Decimal("0.01")))


def delta(now: Decimal, before: Decimal, period: str, cost: bool = True) -> tuple[str, str]:
    """('▲ 12.3% vs previous 30 days', 'bad'): the change and its colour; up is bad for a cost."""
    if before == now:
        return f"same as {period}", ""
    if before == 0:
        return f"new: nothing {period}", "bad" if cost and now > 0 else ""
    change = (now - before) / abs(before)
    arrow = "▲" if change > 0 else "▼"
    tone = ("bad" if change > 0 else "good") if cost else ("good" if change > 0 else "bad")
    return f"{arrow} {share_text(abs(change))} vs {period}", tone


def part_cards(parts: CostParts, before: CostParts | None, period: str, allocated: bool = True) -> list[Card]:
    """Total, metered, extra and fixed: the whole cost split, each with its change."""
    rows = [("total", "Total cost", "metered + per-session extra + fixed")]
    rows += [(name, *PARTS[name]) for name in ("metered", "extra", "fixed")]
    cards = []
    for key, label, note in rows:
        if not allocated and key in ("extra", "fixed"):
            cards.append(Card(label, "not split", "belongs to sessions, not to a service, agent or model", key))
            continue
        amount: Decimal = getattr(parts, key)
        change, tone = delta(amount, getattr(before, key), period) if before is not None else ("", "")
        cards.append(Card(label, money(amount), note, key, delta=change, tone=tone))
    return cards


__all__ = [
    "DEFAULT_DAYS",
    "KIND_OF_SERVICE",
    "PAGE_SIZE",
    "PARTS",
    "Card",
    "Page",
    "Preset",
    "before_label",
    "bounds",
    "delta",
    "money",
    "part_cards",
    "presets",
    "span",
    "window",
]
