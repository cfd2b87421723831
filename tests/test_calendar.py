"""The calendar test: what depends on "today" holds on any day, at the edges of days, months and years.

Each instant pins the one clock (`costledger.clock`, and $COSTLEDGER_NOW for anything the test
starts), records events placed around it — the first and last seconds of the day and of the
month, the week before, last year — and checks month to date, today, the forecast, daily and
monthly alerts, budgets, margins, the demo and the dashboard's overview against figures worked
out here by hand from those instants.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from costledger import Ledger, clock
from costledger.config import parse_config
from costledger.demo import record_workload, workload
from costledger.money import quantize

# The dates, and a month whose 1st is a Saturday (2027-05-01).
CALENDAR = [
    "2026-12-01T12:00:00Z",
    "2027-01-01T00:00:30Z",
    "2027-02-28T23:59:50Z",
    "2028-02-29T12:00:00Z",
    "2027-03-31T12:00:00Z",
    "2027-05-01T07:00:00Z",
]

CONFIG = """
[[alerts]]
kind = "daily_total"
threshold_usd = "2"
channels = ["log"]

[[alerts]]
kind = "monthly_total"
threshold_usd = "5"
channels = ["log"]

[[plans]]
name = "creator"
price_usd = "29"
period = "month"
included_sessions = 100
"""


FEE = Decimal("1.14")  # a payment's fee, reported with it (cost_usd) as a webhook would


@dataclass(frozen=True)
class Placed:
    ts: dt.datetime
    cost: Decimal
    payment: Decimal | None = None  # amount_usd of a Stripe payment (its cost is the fee)


def _placed(now: dt.datetime) -> list[Placed]:
    """Events around `now`, each with a cost that tells the periods apart when summed."""
    today = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    month = today.replace(day=1)
    out = [
        Placed(now, Decimal("1.5")),
        Placed(today, Decimal("0.75")),  # the first second of today
        Placed(today - dt.timedelta(seconds=1), Decimal("4")),  # the last second of yesterday
        Placed(month, Decimal("0.125")),  # the first second of the month (today, on the 1st)
        Placed(month - dt.timedelta(seconds=1), Decimal("8")),  # the last second of last month
        Placed(today.replace(year=today.year - 1, month=1, day=15), Decimal("16")),  # last year
        Placed(now, FEE, payment=Decimal("29")),  # a payment now
        Placed(month - dt.timedelta(seconds=1), FEE, payment=Decimal("29")),  # last month's
    ]
    out += [Placed(today - dt.timedelta(days=d) + dt.timedelta(hours=12), Decimal(d)) for d in range(1, 11)]
    return out


def _events(placed: list[Placed]) -> list[dict[str, Any]]:
    events = []
    for n, p in enumerate(placed):
        if p.payment is not None:
            events.append({"event_id": f"pay-{n}", "ts": p.ts.isoformat(), "service": "stripe", "model": "card",
                           "usage": {"amount_usd": str(p.payment)}, "cost_usd": str(p.cost), "user_id": "u1",
                           "tier": "creator", "operation": "payment"})  # fmt: skip
        else:
            events.append({"event_id": f"e-{n}", "ts": p.ts.isoformat(), "service": "anthropic",
                           "model": "claude-sonnet-4-20250514", "usage": {"input_tokens": 1}, "cost_usd": str(p.cost),
                           "user_id": "u1", "tier": "creator", "session_id": f"s-{n}"})  # fmt: skip
    return events


@dataclass
class Day:
    now: dt.datetime
    placed: list[Placed]
    ledger: Ledger
    db: Path

    def spent(self, first: dt.date, last: dt.date, *, fees: bool = True) -> Decimal:
        """The hand sum of the costs on days first..last (payment fees too, unless `fees=False`)."""
        return sum(
            (p.cost for p in self.placed if (fees or p.payment is None) and first <= p.ts.date() <= last), Decimal(0)
        )


@pytest.fixture(params=CALENDAR, ids=[c[:19] for c in CALENDAR])
def day(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    now = clock.parse_instant(request.param)
    monkeypatch.setenv(clock.ENV, request.param)
    with clock.use(now):
        placed = _placed(now)
        db = tmp_path / "calendar.db"
        ledger = Ledger(db, config=parse_config(CONFIG))
        ledger.record_many(_events(placed))
        try:
            yield Day(now, placed, ledger, db)
        finally:
            ledger.close()


def test_the_clock_is_pinned_where_the_test_says(day: Day) -> None:
    assert clock.now() == day.now and clock.today() == day.now.date()
    day.ledger.record("anthropic", "claude-sonnet-4-20250514", input_tokens=10, session_id="stamped")
    (stamped,) = day.ledger.session_events("stamped")
    assert stamped["ts"] == day.now  # an event without ts gets the pinned now


def test_month_to_date_today_and_forecast(day: Day) -> None:
    today = day.now.date()
    first = today.replace(day=1)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    mtd = day.ledger.month_to_date()
    assert mtd.month == f"{today:%Y-%m}" and mtd.days_in_month == days_in_month and mtd.days_elapsed == today.day
    assert mtd.today_usd == day.spent(today, today)
    assert mtd.cost_usd == day.spent(first, today)
    # The run rate: the seven complete days before today, whatever month they fall in.
    rate = quantize(day.spent(today - dt.timedelta(days=7), today - dt.timedelta(days=1)) / 7)
    assert mtd.run_rate_usd == rate
    expected = (mtd.cost_usd - mtd.today_usd) + max(mtd.today_usd, rate) + rate * (days_in_month - today.day)
    assert mtd.forecast_usd == quantize(expected)
    trend = day.ledger.daily_trend(3)
    assert [t.group["day"] for t in trend] == [(today - dt.timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert trend[-1].cost_usd == day.spent(today, today)


def test_daily_and_monthly_alerts_fire_for_their_own_period(day: Day) -> None:
    today = day.now.date()
    fired = {(a.kind, a.period): a for a in day.ledger.alerts.history()}
    # Today's events: 1.5 + 0.75 (+ 0.125 on the 1st) = over the $2 a day; yesterday's $4 fired for yesterday.
    assert ("daily_total", today.isoformat()) in fired
    assert ("daily_total", (today - dt.timedelta(days=1)).isoformat()) in fired
    this_month = day.spent(today.replace(day=1), today)
    assert (("monthly_total", f"{today:%Y-%m}") in fired) == (this_month > 5)
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    assert ("monthly_total", f"{last_month:%Y-%m}") in fired  # $8 in its last second alone


@pytest.mark.parametrize("period", ["day", "month"])
def test_budgets_count_today_and_this_month(day: Day, period: str) -> None:
    today = day.now.date()
    toml = f'[[budgets]]\nscope = "user"\nperiod = "{period}"\nlimit_usd = "1000"\n'
    with Ledger(day.db, config=parse_config(toml)) as ledger:
        check = ledger.check_budget(0, user_id="u1")
    first = today if period == "day" else today.replace(day=1)
    assert check.budget is not None and check.spent == day.spent(first, today)


def test_margins_of_this_month(day: Day) -> None:
    from costledger.margins import report_for

    today = day.now.date()
    report = report_for(day.ledger, f"{today:%Y-%m}")
    total = report.total(f"{today:%Y-%m}")
    assert total.revenue == Decimal("29")  # the payment now, not last month's at its last second
    assert total.fees == FEE
    assert total.variable_cost == day.spent(today.replace(day=1), today, fees=False)


def test_the_demo_ends_now_and_starts_days_ago(tmp_path: Path, day: Day) -> None:
    events = list(workload(seed=2, days=4))
    assert events and max(e["ts"] for e in events) <= day.now
    assert min(e["ts"] for e in events).date() == day.now.date() - dt.timedelta(days=3)
    unknown = sum(1 for e in events if e["model"] == "claude-experimental-0901")
    assert unknown >= 1  # three complete days hold one of the demo's trial days, whatever the date
    with Ledger(tmp_path / "demo.db") as ledger:
        first = record_workload(ledger, seed=2, days=4)
        assert (first.accepted, first.unpriced) == (len(events), unknown)
        assert record_workload(ledger, seed=2, days=4).accepted == 0


def test_the_dashboard_overview_shows_this_month(day: Day) -> None:
    from costledger.dashboard import auth
    from costledger.keys import KeyVerifier
    from server.harness import start_thread_server, stop_thread_server

    today = day.now.date()
    day.ledger.close()
    running = start_thread_server(str(day.db))
    try:
        found = auth.log_in(KeyVerifier(running.app.state.ledger.store), running.keys.admin)
        assert found is not None
        page = httpx.get(running.url + "/", cookies={auth.COOKIE: found[1]}, timeout=30)
        assert page.status_code == 200
        html = page.text
    finally:
        stop_thread_server(running)
    month = re.search(r'data-card="month">.*?<div class="value">([^<]+)<', html, re.S)
    assert month is not None
    assert month.group(1).strip() == f"${day.spent(today.replace(day=1), today).quantize(Decimal('0.01')):,}"
    assert f"{today:%Y-%m}" in html


def test_a_reservation_made_before_midnight_still_holds_after_it(day: Day) -> None:
    toml = '[[budgets]]\nscope = "user"\nperiod = "day"\nlimit_usd = "100"\n'
    midnight = dt.datetime.combine(day.now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    with Ledger(day.db, config=parse_config(toml)) as ledger:
        with clock.use(midnight - dt.timedelta(seconds=10)):
            ledger.reserve("90", user_id="u2")
            assert ledger.check_budget(0, user_id="u2").reserved == Decimal("90")
        with clock.use(midnight + dt.timedelta(seconds=10)):  # a new day: nothing spent, the 90 still held
            check = ledger.check_budget(0, user_id="u2")
            assert (check.spent, check.reserved) == (Decimal(0), Decimal("90"))
        with clock.use(midnight + dt.timedelta(minutes=16)):  # expired (15 minutes by default)
            assert ledger.check_budget(0, user_id="u2").reserved == 0
