"""What each kind of rule checks, registered by name.

A kind reads only the totals its batch touched (period totals and session rows,
one primary-key lookup each), which is why evaluation on ingest stays flat however
many events are stored. Adding a kind (a plan's margin, say) is one function and
one `register` call.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from ..money import from_nanos, join, to_nanos, usd
from .rules import Rule
from .totals import Figures, Key, day_key, keys_of, raw, read_totals

# Days of the trailing week that must have events before a spike rule compares against it.
MIN_HISTORY_DAYS = 4


def dollars(amount: Decimal) -> str:
    """$1,234.50 for people; sub-cent amounts keep their digits; -$17.14 for a loss."""
    if amount < 0:
        return "-" + dollars(-amount)
    if abs(amount) >= Decimal("0.01") or amount == 0:
        return f"${amount:,.2f}"
    return f"${usd(amount)}"


@dataclass(frozen=True)
class Firing:
    """A rule crossed its line for one subject in one period."""

    rule: Rule
    subject: str  # "total", "user_id=u_17", "session=room-42", "service=anthropic"
    period: str  # "2026-11-23", "2026-11" or "session"
    value: int | None  # nano-USD, or a count for `unpriced`
    threshold: int | None
    message: str
    details: Mapping[str, Any]


@dataclass
class Context:
    """What one written batch touched, with memoised reads of the totals it changed."""

    connection: Connection
    rows: Sequence[Mapping[str, Any]]
    now: dt.datetime  # naive UTC
    keys: set[Key] = field(default_factory=set)
    session_ids: set[str] = field(default_factory=set)
    _totals: dict[Key, Figures] = field(default_factory=dict)
    # (rule, subject, period) known to have fired already: checks skip them before formatting a message.
    fired: Container[tuple[str, str, str]] = ()
    _sessions: dict[str, Any] = field(default_factory=dict)
    _slots: dict[tuple[bool, str], list[Key]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.keys:
            for row in self.rows:
                self.keys.update(keys_of(row))
        self.session_ids = {row["session_id"] for row in self.rows if row.get("session_id")}

    def prefetch(self, dimensions: set[str], extra: Iterable[Key] = ()) -> None:
        """Read the touched totals of `dimensions` ('' = overall) not known yet, and what rules said they will
        want, in one query."""
        wanted = [k for k in self.keys if k[1] in dimensions and k not in self._totals]
        wanted.extend(k for k in extra if k not in self._totals)
        if wanted:
            self._totals.update(read_totals(self.connection, wanted))

    def totals(self, keys: Sequence[Key]) -> dict[Key, Figures]:
        missing = [k for k in keys if k not in self._totals]
        if missing:
            self._totals.update(read_totals(self.connection, missing))
        return {k: self._totals[k] for k in keys}

    def session(self, session_id: str) -> Any:
        if not self._sessions and self.session_ids:
            wanted = sorted(self.session_ids)
            found = raw(
                self.connection,
                "SELECT session_id, user_id, tier, mode, events, cost_high, cost FROM sessions WHERE session_id IN "
                f"({', '.join('?' * len(wanted))})",
                tuple(wanted),
            )
            columns = ("session_id", "user_id", "tier", "mode", "events")
            self._sessions.update(
                {r[0]: {**dict(zip(columns, r[:5], strict=True)), "cost": join(r[5], r[6])} for r in found}
            )
        return self._sessions.get(session_id)

    def touched(self, rule: Rule, monthly: bool) -> list[Key]:
        """The touched period totals this rule watches."""
        if not self._slots:
            for key in sorted(self.keys):
                self._slots.setdefault((len(key[0]) == 7, key[1]), []).append(key)
        keys = self._slots.get((monthly, rule.per or ""), [])
        return keys if rule.only is None else [k for k in keys if k[2] == rule.only]


Check = Callable[[Rule, Context], list[Firing]]


@dataclass(frozen=True)
class Kind:
    check: Check
    describe: Callable[[Rule], str]
    needs_threshold: bool = True
    per: tuple[str, ...] = ("user_id", "agent", "tier", "mode", "service")
    # Totals beyond the touched ones that `check` will read, fetched with them in one query.
    wants: Callable[[Rule, Context], list[Key]] | None = None


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


def _subject(key: Key) -> str:
    return f"{key[1]}={key[2]}" if key[1] else "total"


def _whose(key: Key) -> str:
    if not key[1]:
        return ""
    label = "user" if key[1] == "user_id" else key[1]
    return f"{label} {key[2]}: "


def _figures(rule: Rule, key: Key, value: Decimal, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rule.kind, "rule": rule.name, "period": key[0], "value_usd": usd(value)}
    if key[1]:
        out[key[1]] = key[2]
    if rule.threshold is not None:
        out["threshold_usd"] = usd(rule.threshold)
    return {**out, **{k: (usd(v) if isinstance(v, Decimal) else v) for k, v in more.items()}}


def _over(rule: Rule, context: Context, monthly: bool) -> list[Firing]:
    assert rule.threshold is not None
    out = []
    keys = context.touched(rule, monthly)
    for key, figures in context.totals(keys).items():
        if figures.cost <= to_nanos(rule.threshold) or (rule.name, _subject(key), key[0]) in context.fired:
            continue
        cost = from_nanos(figures.cost) or Decimal(0)
        what = "Month-to-date cost" if monthly else "Daily cost"
        message = (f"{_whose(key)}{what} for {key[0]} is {dollars(cost)}, over the {dollars(rule.threshold)} "
                   "alert threshold.")  # fmt: skip
        out.append(
            Firing(rule, _subject(key), key[0], figures.cost, to_nanos(rule.threshold), message,
                   _figures(rule, key, cost, events=figures.events))
        )  # fmt: skip
    return out


def _session_total(rule: Rule, context: Context) -> list[Firing]:
    assert rule.threshold is not None
    out = []
    for session_id in sorted(context.session_ids):
        row = context.session(session_id)
        if row is None or (rule.per and rule.only is not None and row[rule.per] != rule.only):
            continue
        if row["cost"] <= to_nanos(rule.threshold) or (rule.name, f"session={session_id}", "session") in context.fired:
            continue
        cost = from_nanos(row["cost"]) or Decimal(0)
        who = ", ".join(f"{label} {row[col]}" for label, col in
                        (("user", "user_id"), ("tier", "tier"), ("mode", "mode")) if row[col])  # fmt: skip
        message = f"Session {session_id} has cost {dollars(cost)}, over the {dollars(rule.threshold)} alert threshold"
        message += f" ({who})." if who else "."
        details = {"kind": rule.kind, "rule": rule.name, "session_id": session_id, "value_usd": usd(cost),
                   "threshold_usd": usd(rule.threshold), "events": int(row["events"]), "user_id": row["user_id"],
                   "tier": row["tier"], "mode": row["mode"]}  # fmt: skip
        out.append(Firing(rule, f"session={session_id}", "session", int(row["cost"]), to_nanos(rule.threshold),
                          message, details))  # fmt: skip
    return out


# An unpriced alert names at most this many models; the rest are counted.
UNPRICED_LISTED = 20


def _unpriced(rule: Rule, context: Context) -> list[Firing]:
    """One alert per day ("unpriced models appeared"), listing the models: not one per service or model, as
    an ingest key sending thousands of made-up names would otherwise fire thousands."""
    models: dict[str, set[str]] = {}
    for row in context.rows:
        if row["cost"] is None:
            name = row["service"] + (f":{row['model']}" if row.get("model") else "")
            models.setdefault(day_key(row["day"]), set()).add(name)
    out = []
    for key, figures in context.totals([(day, "", "") for day in sorted(models)]).items():
        if figures.unpriced < rule.min_events or (rule.name, "total", key[0]) in context.fired:
            continue
        names = sorted(models[key[0]])
        listed = ", ".join(names[:UNPRICED_LISTED]) + (
            f" and {len(names) - UNPRICED_LISTED:,} more" if len(names) > UNPRICED_LISTED else "")  # fmt: skip
        message = (f"Unpriced models appeared on {key[0]}: {listed}. {figures.unpriced} unpriced event(s) that day: "
                   "no price is known, so their cost is missing from every total. Add a [[prices]] entry or an "
                   "alias.")  # fmt: skip
        details = {"kind": rule.kind, "rule": rule.name, "period": key[0], "models": names[:UNPRICED_LISTED],
                   "models_not_listed": max(0, len(names) - UNPRICED_LISTED),
                   "unpriced_events": figures.unpriced}  # fmt: skip
        out.append(Firing(rule, "total", key[0], figures.unpriced, rule.min_events, message, details))
    return out


@functools.lru_cache(maxsize=512)
def _days_before(day: str) -> tuple[str, ...]:
    start = dt.date.fromisoformat(day)
    return tuple(day_key(start - dt.timedelta(days=n)) for n in range(1, 8))


def _trailing(key: Key) -> list[Key]:
    return [(day, key[1], key[2]) for day in _days_before(key[0])]


def _spike_wants(rule: Rule, context: Context) -> list[Key]:
    return [k for key in context.touched(rule, monthly=False) for k in _trailing(key)]


def _spike(rule: Rule, context: Context) -> list[Firing]:
    assert rule.factor is not None
    out = []
    for key in context.touched(rule, monthly=False):
        trailing = _trailing(key)
        figures = context.totals([key, *trailing])
        today = from_nanos(figures[key].cost) or Decimal(0)
        average = (from_nanos(sum(figures[k].cost for k in trailing)) or Decimal(0)) / 7
        # A young ledger's first busy day is no spike: compare only against a week that mostly happened.
        if sum(1 for k in trailing if figures[k].events) < MIN_HISTORY_DAYS:
            continue
        if average <= 0 or today <= rule.factor * average:
            continue
        if rule.threshold is not None and today < rule.threshold:
            continue
        ratio = today / average
        message = (f"{_whose(key)}Cost on {key[0]} is {dollars(today)}, {ratio:.1f}× the trailing 7-day average "
                   f"of {dollars(average)} (alert at {usd(rule.factor)}×).")  # fmt: skip
        out.append(
            Firing(rule, _subject(key), key[0], figures[key].cost, to_nanos(rule.factor * average), message,
                   _figures(rule, key, today, average_usd=average.quantize(Decimal("0.000000001")),
                            factor=usd(rule.factor)))
        )  # fmt: skip
    return out


def _forecast(rule: Rule, context: Context) -> list[Firing]:
    assert rule.threshold is not None
    out = []
    for key in context.touched(rule, monthly=True):
        year, month = int(key[0][:4]), int(key[0][5:7])
        length = calendar.monthrange(year, month)[1]
        start = dt.datetime(year, month, 1)
        elapsed = (context.now - start).total_seconds() / 86400
        if elapsed >= length:
            continue  # a closed month: its own total, not a forecast, is what an over-budget rule sees
        figures = context.totals([key])[key]
        spent = from_nanos(figures.cost) or Decimal(0)
        # Less than a day of data projects wildly; a day is the least we extrapolate from.
        projection = spent * length / Decimal(str(max(elapsed, 1.0)))
        if projection <= rule.threshold:
            continue
        message = (f"{_whose(key)}Month-to-date cost {dollars(spent)} projects to {dollars(projection)} for "
                   f"{key[0]}, over the {dollars(rule.threshold)} monthly budget.")  # fmt: skip
        out.append(
            Firing(rule, _subject(key), key[0], to_nanos(projection), to_nanos(rule.threshold), message,
                   _figures(rule, key, spent, projection_usd=projection.quantize(Decimal("0.01"))))
        )  # fmt: skip
    return out


def _per(rule: Rule) -> str:
    if not rule.per:
        return ""
    label = "user" if rule.per == "user_id" else rule.per
    return f" for {label} {rule.only}" if rule.only is not None else f" per {label}"


def _limit(rule: Rule) -> str:
    return dollars(rule.threshold or Decimal(0))


register("session_total", Kind(_session_total, lambda r: f"a session{_per(r)} costs over {_limit(r)}",
                               per=("user_id", "tier", "mode")))  # fmt: skip
register("daily_total", Kind(lambda r, c: _over(r, c, False), lambda r: f"daily cost{_per(r)} over {_limit(r)}"))
register("monthly_total", Kind(lambda r, c: _over(r, c, True),
                               lambda r: f"month-to-date cost{_per(r)} over {_limit(r)}"))  # fmt: skip
register("unpriced", Kind(_unpriced, lambda r: f"{r.min_events}+ unpriced events in a day (one alert, models listed)",
                          needs_threshold=False, per=()))  # fmt: skip
register("spike", Kind(_spike, lambda r: f"daily cost{_per(r)} over {usd(r.factor)}× its trailing 7-day average",
                       needs_threshold=False, wants=_spike_wants))  # fmt: skip
register("forecast", Kind(_forecast, lambda r: f"month-end projection{_per(r)} over {_limit(r)}"))
