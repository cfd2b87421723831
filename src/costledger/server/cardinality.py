"""Distinct services and models per UTC day from ingest keys, capped (costledger.limits).

A service or model name is a row in the rollups and period totals, a line in every breakdown, a
Prometheus series and an unpriced alert: 10,000 made-up names from one ingest key grew /metrics
40-fold and slowed the overview twenty-fold. Beyond the day's cap, the events that would add a new
name are refused (422, naming each), and the names already seen that day keep working.

Each worker keeps the day's names it knows and asks the store only for a name it has not seen (at
most once a second): the period totals hold the day's services, the rollups its service+model pairs.
Workers admitting new names at the same moment may pass the cap by the few each admits at once.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import select

from ..events import UsageEvent
from ..limits import Limits
from ..store import Store
from ..store.alerts_schema import period_totals
from ..store.schema import rollup_daily

Names = tuple[set[str], set[tuple[str, str]]]  # services, (service, model '' for none)

_DAYS_KEPT = 8  # today, and a week of late events
_REFRESH_SECONDS = 1.0


class Cardinality:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.max_services = limits.max_services_per_day
        self.max_models = limits.max_models_per_day
        self._known: OrderedDict[dt.date, Names] = OrderedDict()
        self._read_at: dict[dt.date, float] = {}
        self._lock = threading.Lock()

    def refused(self, events: Sequence[UsageEvent]) -> list[tuple[int | None, str, str]]:
        """(index, field, why) of each event that would pass a day's cap; empty when the batch may go in."""
        wanted: dict[dt.date, list[tuple[int, str, tuple[str, str]]]] = {}
        for index, event in enumerate(events):
            wanted.setdefault(event.ts.date(), []).append((index, event.service, (event.service, event.model or "")))
        errors: list[tuple[int | None, str, str]] = []
        for day, named in sorted(wanted.items()):
            known = [set(names) for names in self._names(day, named)]
            caps = ((known[0], self.max_services, "service", "services"), (known[1], self.max_models, "model",
                                                                           "service models"))  # fmt: skip
            for index, *names in named:
                for name, (seen, cap, field, what) in zip(names, caps, strict=True):
                    if name in seen:
                        continue
                    if len(seen) >= cap:
                        errors.append((index, field, f"a new {field} on {day}, past the {cap:,} distinct {what} a day "
                                       "this server takes from ingest keys"))  # fmt: skip
                        break
                    seen.add(name)
        return sorted(errors, key=lambda e: e[0] or 0)

    def remember(self, events: Sequence[UsageEvent]) -> None:
        """The names of a stored batch are known from now on."""
        with self._lock:
            for event in events:
                known = self._known.get(event.ts.date())
                if known is not None:
                    known[0].add(event.service)
                    known[1].add((event.service, event.model or ""))

    def _names(self, day: dt.date, named: list[tuple[int, str, tuple[str, str]]]) -> Names:
        with self._lock:
            known = self._known.get(day)
            fresh = time.monotonic() - self._read_at.get(day, -_REFRESH_SECONDS) < _REFRESH_SECONDS
            if known is not None and (fresh or all(s in known[0] and m in known[1] for _, s, m in named)):
                return known
        read = self._read(day)
        with self._lock:
            self._known[day] = read
            self._known.move_to_end(day)
            self._read_at[day] = time.monotonic()
            while len(self._known) > _DAYS_KEPT:
                old, _ = self._known.popitem(last=False)
                self._read_at.pop(old, None)
            return read

    def _read(self, day: dt.date) -> Names:
        p, r = period_totals.c, rollup_daily.c
        with self.store.engine.connect() as connection:
            services = connection.execute(
                select(p.value).where(p.period == day.isoformat(), p.dimension == "service", p.events != 0)
            )
            models = connection.execute(select(r.service, r.model).where(r.day == day, r.events != 0).distinct())
            return {str(s) for (s,) in services}, {(str(s), str(m)) for s, m in models}


__all__ = ["Cardinality"]
