"""The margin report read from the aggregates equals a recount from the events themselves, on a
three-month ledger with plans, subscriptions (one changing plan), session types with an extra cost,
fixed costs, payments with refunds, disputes and a reversal, a payment inside a session, unpriced
events and events of no user: whole data and a range cutting months, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from costledger import Ledger
from costledger.config import Config, parse_config
from costledger.margins import margin_report
from costledger.margins.arithmetic import allocate_by, percentile
from costledger.margins.plans import PlanBook, fixed_cost_of
from costledger.store.schema import events

D = Decimal
CONFIG = """
[[fixed_costs]]
name = "servers"
monthly_usd = "300"
since = 2026-09-01

[[fixed_costs]]
name = "support desk"
monthly_usd = "45.5"
since = 2026-10-01
until = 2026-10-31

[[plans]]
name = "free"
price_usd = "0"
included_sessions = 10

[[plans]]
name = "pro"
price_usd = "29"
included_sessions = 100

[[plans]]
name = "team"
price_usd = "99"
included_sessions = 300

[[plans]]
name = "expert"
price_usd = "79"
period = "session"
modes = ["expert"]

[[session_types]]
mode = "chat"
estimate_usd = ["0.01", "0.10"]

[[session_types]]
mode = "expert"
estimate_usd = ["60", "61"]
extra_cost_usd = "60"

[[session_types]]
mode = "voice"
estimate_usd = ["0.10", "0.50"]
extra_cost_usd = "0.125"

[[subscriptions]]
user_id = "u3"
plan = "team"
since = 2026-09-01
until = 2026-10-15

[[subscriptions]]
user_id = "u3"
plan = "pro"
since = 2026-10-16

[[subscriptions]]
user_id = "u7"
plan = "team"
since = 2026-11-01
"""
TIERS = {"u0": "free", "u1": "free", "u2": "pro", "u3": "pro", "u4": "pro", "u5": "team", "u6": "expert",
         "u7": "free", "u8": None}  # fmt: skip
MODELS = [("anthropic", "claude-sonnet-4-20250514"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-unknown-x")]


def _ts(day: dt.date, rng: random.Random) -> str:
    moment = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), tzinfo=dt.UTC)
    return moment.isoformat()


def _record(ledger: Ledger, seed: int = 20) -> None:
    rng = random.Random(seed)
    first = dt.date(2026, 9, 1)
    rows: list[dict[str, Any]] = []
    for n in range(260):
        day = first + dt.timedelta(days=rng.randrange(91))
        user = rng.choice(sorted(TIERS))
        tier = TIERS[user]
        mode = "expert" if tier == "expert" else rng.choice(["chat", "chat", "voice", None])
        session = f"s{n}"
        base = dt.datetime.combine(day, dt.time(rng.randrange(20)), tzinfo=dt.UTC)
        for k in range(rng.randrange(1, 5)):
            service, model = MODELS[0] if rng.random() < 0.6 else rng.choice(MODELS)
            ts = (base + dt.timedelta(minutes=7 * k)).isoformat()
            rows.append({"service": service, "model": model, "usage": {"input_tokens": rng.randrange(100, 40_000),
                         "output_tokens": rng.randrange(0, 4_000)}, "session_id": session, "user_id": user,
                         "tier": tier, "mode": mode, "agent": rng.choice(["a", "b"]), "ts": ts})  # fmt: skip
        if n % 37 == 0:  # a payment recorded inside the session: no API cost of the session's
            rows.append({"service": "stripe", "model": "card", "operation": "payment", "usage": {"amount_usd": "5"},
                         "session_id": session, "user_id": user, "tier": tier, "mode": mode,
                         "ts": (base + dt.timedelta(minutes=1)).isoformat()})  # fmt: skip
    for n in range(40):  # events of no session, some of no user
        user = rng.choice([*sorted(TIERS), None])
        usage = {"input_tokens": 1000 + n, "output_tokens": 10}
        rows.append({"service": "openai", "model": "gpt-4o-mini", "usage": usage, "user_id": user,
                     "tier": TIERS.get(user or ""), "ts": _ts(first + dt.timedelta(days=2 * n), rng)})  # fmt: skip
    for month in (9, 10, 11):
        for user, tier in TIERS.items():
            if tier in ("pro", "team") or user in ("u3", "u7"):
                price = "99" if tier == "team" or (user == "u7" and month == 11) else "29"
                rows.append({"service": "stripe", "model": "card", "operation": "payment",
                             "usage": {"amount_usd": price}, "user_id": user, "tier": tier,
                             "ts": f"2026-{month:02d}-0{1 + month % 3}T06:00:00+00:00"})  # fmt: skip
    rows += [
        {"service": "stripe", "model": "card", "operation": "refund", "usage": {"amount_usd": "29"},
         "user_id": "u2", "tier": "pro", "ts": "2026-10-20T08:00:00+00:00"},
        {"service": "stripe", "model": "card", "operation": "dispute", "usage": {"amount_usd": "29"},
         "user_id": "u4", "tier": "pro", "ts": "2026-09-25T08:00:00+00:00"},
        {"service": "stripe", "model": "card", "operation": "dispute_reversal", "usage": {"amount_usd": "29"},
         "user_id": "u4", "tier": "pro", "ts": "2026-11-05T08:00:00+00:00"},
        {"service": "stripe", "model": "card", "operation": "payment", "usage": {"amount_usd": "79"},
         "user_id": "u6", "tier": "expert", "ts": "2026-11-12T08:00:00+00:00", "cost_usd": "2.59"},
    ]  # fmt: skip
    for row in rows:
        row.setdefault("event_id", f"e{len(rows)}-{id(row)}")
    rng.shuffle(rows)  # out of order, in several batches: sessions and payments arrive in any order
    for start in range(0, len(rows), 97):
        ledger.record_many(rows[start : start + 97])


def _month(ts: dt.datetime) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


_ZERO = D(0)


def _recount(ledger: Ledger, config: Config, since: dt.date, until: dt.date) -> dict[str, Any]:
    """The report's figures from every event of the range, one by one."""
    book = PlanBook(config.plans, config.subscriptions)
    extra = {st.mode: st.extra_cost_usd for st in config.session_types}
    with ledger.store.engine.connect() as connection:
        rows = connection.execute(select(events).order_by(events.c.ts)).all()
    margins: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"sessions": 0, "unpriced": 0, "users": set()})
    sessions: dict[str, dict[str, Any]] = {}

    def add(month: str, plan: str, user: str | None, **parts: Decimal) -> None:
        for name, value in parts.items():
            margins[(month, plan, user or "")][name] += value
        cells[(month, plan)]["users"].update([user] if user else [])

    for row in rows:
        if row.session_id is not None:  # a session of any day: it starts at its first event
            s = sessions.setdefault(row.session_id, {"start": row.ts, "user": row.user_id, "tier": row.tier,
                                                     "mode": row.mode, "api": _ZERO, "unpriced": 0})  # fmt: skip
            s["unpriced"] += row.cost is None
            if row.service != "stripe" and row.cost is not None:
                s["api"] += D(row.cost) / 10**9
        if not since <= row.ts.date() <= until:
            continue
        month = _month(row.ts)
        plan = book.plan_of(row.user_id, month, row.tier)
        cost = None if row.cost is None else D(row.cost) / 10**9
        if row.service != "stripe":
            add(month, plan, row.user_id, variable_cost=cost or _ZERO)
            cells[(month, plan)]["unpriced"] += cost is None
            continue
        amount = D(str(json.loads(row.usage)["amount_usd"]))
        fee = cost or _ZERO
        estimated = fee if row.cost_source != "reported" else _ZERO
        kind = row.operation
        if kind == "refund":
            add(month, plan, row.user_id, refunds=amount)
        elif kind == "dispute":
            add(month, plan, row.user_id, disputes=amount, fees=fee, fees_estimated=estimated)
        elif kind == "dispute_reversal":
            add(month, plan, row.user_id, disputes=-amount)
        else:
            add(month, plan, row.user_id, revenue=amount, fees=fee, fees_estimated=estimated)
    days = (since + dt.timedelta(n) for n in range((until - since).days + 1))
    months = sorted({f"{d.year:04d}-{d.month:02d}" for d in days})
    for month in months:
        for plan, users in book.subscribers(month).items():
            cells[(month, plan)]["users"].update(users)
    held = [s for s in sessions.values() if since <= s["start"].date() <= until]
    weights: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for s in held:
        month = _month(s["start"])
        plan = s["plan"] = book.plan_of(s["user"], month, s["tier"])
        cells[(month, plan)]["sessions"] += 1
        weights[month][(plan, s["user"] or "")] += 1
        add(month, plan, s["user"], extra_cost=extra.get(s["mode"] or "", _ZERO))
    unallocated = {}
    for month in months:
        fixed = fixed_cost_of(month, config.fixed_costs)
        if not weights.get(month):
            if fixed:
                unallocated[month] = fixed
            continue
        for (plan, user), share in allocate_by(fixed, dict(sorted(weights[month].items()))).items():
            add(month, plan, user, fixed_cost=share)
    at_limit = {}
    for plan in config.plans:
        own = [s for s in held if s["plan"] == plan.name and (not plan.modes or (s["mode"] or "") in plan.modes)]
        if not own and plan.modes:
            own = [s for s in held if (s["mode"] or "") in plan.modes]
        costs = [s["api"] + extra.get(s["mode"] or "", _ZERO) for s in own if not s["unpriced"]]
        at_limit[plan.name] = (len(costs), percentile(costs, 50) if costs else None,
                               percentile(costs, 90) if costs else None)  # fmt: skip
    return {
        "users": {k: {n: v for n, v in m.items() if v} for k, m in margins.items()},
        "cells": {k: (c["sessions"], c["unpriced"], len(c["users"])) for k, c in cells.items()},
        "unallocated": unallocated,
        "at_limit": at_limit,
        "months": months,
    }


def _reported(ledger: Ledger, since: dt.date, until: dt.date) -> dict[str, Any]:
    report = margin_report(ledger.store, ledger.config, ledger.catalog, since=since, until=until)
    names = ("revenue", "refunds", "fees", "variable_cost", "extra_cost", "fixed_cost", "disputes", "fees_estimated")
    users = {k: {n: getattr(m, n) for n in names if getattr(m, n)} for k, m in report.users.items()}
    for cell in report.plans:  # a plan month's margin is its users' margins summed
        summed = {n: sum((users.get((cell.month, cell.plan, u), {}).get(n, _ZERO)
                          for (mo, p, u) in report.users if (mo, p) == (cell.month, cell.plan)), _ZERO)
                  for n in names}  # fmt: skip
        assert {n: v for n, v in summed.items() if v} == {n: getattr(cell.margin, n) for n in names
                                                          if getattr(cell.margin, n)}  # fmt: skip
    return {
        "users": users,
        "cells": {(c.month, c.plan): (c.sessions, c.unpriced, len(c.users)) for c in report.plans},
        "unallocated": report.unallocated_fixed,
        "at_limit": {
            r.plan.name: (
                r.measured_sessions,
                r.p50.cost_per_session if r.p50 else None,
                r.p90.cost_per_session if r.p90 else None,
            )
            for r in report.at_limit
        },
        "months": report.months,
    }


@pytest.mark.parametrize(
    "since,until",
    [(dt.date(2026, 9, 1), dt.date(2026, 11, 30)), (dt.date(2026, 9, 14), dt.date(2026, 11, 9)),
     (dt.date(2026, 10, 1), dt.date(2026, 10, 31)), (dt.date(2026, 10, 3), dt.date(2026, 10, 28))],
)  # fmt: skip
def test_margin_report_equals_a_recount_from_the_events(store_url: str, since: dt.date, until: dt.date) -> None:
    config = parse_config(CONFIG)
    with Ledger(store_url, config=config) as ledger:
        _record(ledger)
        expected = _recount(ledger, config, since, until)
        assert expected["at_limit"]["expert"][0] > 0 and expected["unallocated"] == {}
        assert any(n for n, _, _ in expected["cells"].values())
        assert _reported(ledger, since, until) == expected
