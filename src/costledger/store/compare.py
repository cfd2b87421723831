"""What an old tracker recorded vs what costledger computes, per service and model.

Only imported events carry a recorded cost, so this reads the events that have one.
The difference is taken over the events both priced; events costledger leaves unpriced
(an unknown model the old tracker priced as Sonnet, say) are counted apart with what the
old tracker charged for them, so a wrong guess shows instead of hiding in a total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, func, select

from ..money import from_nanos, usd
from .schema import events
from .sums import cost_sum, summed


@dataclass(frozen=True)
class Comparison:
    service: str
    model: str | None
    events: int  # events with a recorded cost
    unpriced: int  # of those, left unpriced by costledger
    recorded_usd: Decimal  # what the old tracker recorded for the priced ones
    computed_usd: Decimal  # what costledger computes for them
    recorded_unpriced_usd: Decimal  # what the old tracker recorded for the ones costledger cannot price

    @property
    def difference_usd(self) -> Decimal:
        """computed − recorded over the events both priced: negative when the old tracker overcharged."""
        return self.computed_usd - self.recorded_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "model": self.model,
            "events": self.events,
            "unpriced": self.unpriced,
            "recorded_usd": usd(self.recorded_usd),
            "computed_usd": usd(self.computed_usd),
            "difference_usd": usd(self.difference_usd),
            "recorded_unpriced_usd": usd(self.recorded_unpriced_usd),
        }


def compare_recorded(
    connection: Connection, since: dt.date | None = None, until: dt.date | None = None
) -> list[Comparison]:
    """Per service and model, over UTC days since..until (inclusive), largest discrepancy first."""
    priced = events.c.cost.is_not(None)
    zero = 0
    query = (
        select(
            events.c.service,
            events.c.model,
            func.count().label("n"),
            func.sum(case((priced, zero), else_=1)).label("unpriced"),
            *cost_sum(case((priced, events.c.recorded_cost), else_=zero), label="recorded"),
            *cost_sum(events.c.cost, label="computed"),
            *cost_sum(case((priced, zero), else_=events.c.recorded_cost), label="recorded_unpriced"),
        )
        .where(events.c.recorded_cost.is_not(None))
        .group_by(events.c.service, events.c.model)
    )
    if since is not None:
        query = query.where(events.c.day >= since)
    if until is not None:
        query = query.where(events.c.day <= until)
    rows = [
        Comparison(row.service, row.model, int(row.n), int(row.unpriced), _usd(summed(row, "recorded")),
                   _usd(summed(row, "computed")), _usd(summed(row, "recorded_unpriced")))
        for row in connection.execute(query)
    ]  # fmt: skip
    return sorted(rows, key=lambda c: (-(abs(c.difference_usd) + c.recorded_unpriced_usd), c.service, c.model or ""))


def _usd(nanos: Any) -> Decimal:
    return from_nanos(int(nanos)) or Decimal(0)


__all__ = ["Comparison", "compare_recorded"]
