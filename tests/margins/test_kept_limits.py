"""The plans at their limit from the kept cost bands (margins/kept_limits.py) equal the at-limit table of
every session ranked (at_limit.at_limit_table), row for row, on a shuffled workload recorded in batches
through the real Ledger (SQLite): sessions whose cost grows across batches and bands, ties, unpriced
events, sessions without a tier, mode or user; plans by tier, by mode (one with no session of its own in
its modes), per call, without a quota; extra costs in whole nano-dollars and not. Where the bands cannot
answer (a subscription in force, a payment inside a session, modes with different extra costs), None."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from costledger import Ledger, clock
from costledger.config import Config, parse_config
from costledger.margins.at_limit import AtLimitRow, at_limit_table
from costledger.margins.figures import month_of, session_figures
from costledger.margins.kept_limits import kept_at_limit
from costledger.margins.plans import PlanBook

T0 = dt.datetime(2026, 10, 27, 8, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 6, 12, tzinfo=dt.UTC)

PLANS = """
[[plans]]
name = "free"
price_usd = "0"
included_sessions = 10

[[plans]]
name = "pro"
price_usd = "29"
included_sessions = 40
min_margin_share = "0.3"

[[plans]]
name = "voice"
price_usd = "9"
included_sessions = 30
tier = "team"
modes = ["voice"]

[[plans]]
name = "calls"
price_usd = "0.40"
period = "call"
modes = ["council"]

[[plans]]
name = "open"
price_usd = "5"
"""


def _config(extras: dict[str, str], more: str = "") -> Config:
    types = "".join(
        f'\n[[session_types]]\nmode = "{mode}"\nestimate_usd = ["0.01", "0.02"]\nextra_cost_usd = "{usd}"\n'
        for mode, usd in extras.items()
    )
    return parse_config(PLANS + types + more)


def _workload(seed: int, modeless: bool = True) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for n in range(900):
        session = f"s{rng.randrange(160)}"
        at = T0 + dt.timedelta(hours=rng.randrange(0, 24 * 10), seconds=n)
        fields: dict[str, Any] = {"session_id": session}
        # A session's tier, mode and user come from its first events that carry them.
        bits = int(session[1:])
        if bits % 7:
            fields["tier"] = ("free", "pro", "team")[bits % 3]
        if bits % 5 or not modeless:
            fields["mode"] = ("voice", "text", "council")[bits // 3 % 3]
        if bits % 11:
            fields["user_id"] = f"u{bits % 37}"
        if rng.random() < 0.03:  # a model nobody prices: the session is unpriced
            usage: dict[str, Any] = {"input_tokens": 100}
            service, model = "anthropic", "claude-nonesuch-9"
        elif rng.random() < 0.5:
            usage = {"audio_seconds": rng.choice([1, 60, 60, 600, 3600])}
            service, model = "deepgram", "nova-3"
        else:
            usage = {"input_tokens": rng.randrange(100, 9000), "output_tokens": rng.randrange(10, 900)}
            service, model = "anthropic", "claude-sonnet-4-20250514"
        out.append({"event_id": f"e{n}", "ts": at.isoformat(), "service": service, "model": model, "usage": usage,
                    **fields})  # fmt: skip
    rng.shuffle(out)
    return out


def _ranked(connection: Connection, config: Config, ledger: Ledger, since: dt.date, until: dt.date) -> list[Any]:
    held = session_figures(connection, since, until)
    book = PlanBook(config.plans, config.subscriptions)
    return _rows(at_limit_table(config, ledger.catalog, book, held, month_of(until), until))


def _rows(rows: list[AtLimitRow]) -> list[Any]:
    return [row.as_dict() for row in rows]


RANGES = [
    (dt.date(2026, 10, 27), dt.date(2026, 11, 6)),  # across a month's end: the month of `until` in part
    (dt.date(2026, 11, 1), dt.date(2026, 11, 6)),
    (dt.date(2026, 10, 30), dt.date(2026, 10, 30)),
    (dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    (dt.date(2026, 12, 1), dt.date(2026, 12, 31)),  # no session
]
EXTRAS = [{}, {"voice": "0.05", "text": "0.05", "council": "0.05"}, {"voice": "0.0000000004", "text": "0.0000000004",
                                                                       "council": "0.0000000004"}]  # fmt: skip


@pytest.mark.parametrize("extras", EXTRAS)
def test_the_kept_at_limit_table_equals_every_session_ranked(tmp_path: Path, extras: dict[str, str]) -> None:
    config = _config(extras)
    # Sessions without a mode have no extra cost: beside modes with one, the bands cannot answer (below).
    events = _workload(3, modeless=not extras)
    with clock.use(NOW), Ledger(str(tmp_path / "ledger.db"), config=config) as ledger:
        for start in range(0, len(events), 150):
            ledger.record_many(events[start : start + 150])
            with ledger.store.engine.connect() as connection:
                for since, until in RANGES:
                    kept = kept_at_limit(connection, config, ledger.catalog, since, until)
                    assert kept is not None, (since, until)
                    assert _rows(kept) == _ranked(connection, config, ledger, since, until), (start, since, until)
        with ledger.store.engine.connect() as connection:
            rows = {r.plan.name: r for r in kept_at_limit(connection, config, ledger.catalog, *RANGES[0]) or []}
    # The workload reaches every kind of row: measured plans, the fallback to every session of a plan's
    # modes ("voice" is the team tier's, "calls" has no tier of its own), and a plan without a quota.
    assert rows["pro"].measured_sessions > 0 and rows["free"].p90 is not None
    assert rows["voice"].measured_on == "voice's sessions in modes voice"
    assert rows["calls"].measured_on == "all sessions in modes council" and rows["calls"].measured_sessions > 0
    assert rows["open"].flag == "no quota"


def test_the_bands_do_not_answer_what_they_cannot_know(tmp_path: Path) -> None:
    events = _workload(5)
    payment = {"event_id": "pay", "ts": (T0 + dt.timedelta(days=2)).isoformat(), "service": "stripe",
               "model": "card", "usage": {"amount_usd": "29"}, "session_id": "s1", "user_id": "u1"}  # fmt: skip
    subscribed = _config({}, '\n[[subscriptions]]\nuser_id = "u1"\nplan = "pro"\nsince = 2026-10-15\n')
    uneven = _config({"voice": "0.05", "text": "0.02"})
    with clock.use(NOW), Ledger(str(tmp_path / "ledger.db"), config=_config({})) as ledger:
        ledger.record_many(events)
        with ledger.store.engine.connect() as connection:
            since, until = RANGES[0]
            assert kept_at_limit(connection, _config({}), ledger.catalog, since, until) is not None
            assert kept_at_limit(connection, subscribed, ledger.catalog, since, until) is None
            # In force in a month of the range only from its middle: still that month's.
            early = (dt.date(2026, 10, 1), dt.date(2026, 10, 5))
            assert kept_at_limit(connection, subscribed, ledger.catalog, *early) is None
            assert kept_at_limit(connection, uneven, ledger.catalog, since, until) is None
        ledger.record(payment)
        with ledger.store.engine.connect() as connection:
            assert kept_at_limit(connection, _config({}), ledger.catalog, since, until) is None
            # Payments before the range's sessions began are none of theirs.
            assert kept_at_limit(connection, _config({}), ledger.catalog, dt.date(2026, 11, 1), until) is not None
