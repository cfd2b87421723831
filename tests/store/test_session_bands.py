"""The sessions per day, mode and cost band, kept by the writer (store/session_bands.py), and the exact
percentiles read from them (store/band_percentiles.py): the same band in Python and in SQL on both
backends, each band exactly the costs its conditions select, the percentiles equal to ranking every
session of the range after a shuffled workload, and `db check` naming a wrong row."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import BigInteger, delete, insert, literal, select, update

from costledger import Ledger
from costledger.money import SPLIT, split
from costledger.store import session_modes
from costledger.store.check import check_store
from costledger.store.range_sessions import range_sessions
from costledger.store.schema import session_bands, sessions
from costledger.store.session_bands import HUGE, NEGATIVE, band, stored_band, within
from costledger.store.types import Filters

T0 = dt.datetime(2026, 10, 29, 9, 0, tzinfo=dt.UTC)
# Costs at every kind of edge: the small bands of their own, the first and last of a two-digit prefix,
# each length, the largest low part, and beyond either end.
EDGES = [0, 1, 99, 100, 109, 110, 999, 1000, 1099, 12_345, 99_999, 100_000, 4_300_000, 10**17 - 1, 10**17,
         SPLIT - 1, SPLIT, 3 * SPLIT + 7, -1, -SPLIT - 5]  # fmt: skip


def test_bands_are_ordered_as_the_costs_they_hold() -> None:
    assert [band(n) for n in (0, 1, 99, 100, 109, 110, 999, 1000, 4_300_000)] == [0, 1, 99, 310, 310, 311, 399, 410,
                                                                                  743]  # fmt: skip
    assert band(-1) == band(-SPLIT - 5) == NEGATIVE and band(SPLIT) == band(3 * SPLIT + 7) == HUGE
    assert band(SPLIT - 1) == 1899
    rng = random.Random(3)
    costs = sorted({*EDGES, *(rng.randrange(-(10**6), 10**19) for _ in range(2000))})
    bands = [band(n) for n in costs]
    assert bands == sorted(bands)


def test_a_band_is_the_same_in_sql_and_selects_exactly_its_costs(store_url: str) -> None:
    """stored_band() computed by the database from the stored (high, low) columns equals band(), and
    within(band) selects the sessions of that band and no other."""
    costs = sorted({*EDGES, *random.Random(4).sample(range(0, 10**13), 300)})
    with Ledger(store_url) as ledger, ledger.store.engine.begin() as connection:
        at = T0.replace(tzinfo=None)
        connection.execute(insert(sessions), [
            {"session_id": f"s{n}", "started_at": at, "ended_at": at, "events": 1, "unpriced": 0,
             "cost_high": split(cost)[0], "cost": split(cost)[1]} for n, cost in enumerate(costs)
        ])  # fmt: skip
        for cost in costs:
            high, low = split(cost)
            computed = connection.execute(
                select(stored_band(literal(high, BigInteger), literal(low, BigInteger)))
            ).scalar()
            assert computed == band(cost), cost
        found = {int(sid[1:]): connection.execute(select(stored_band(sessions.c.cost_high, sessions.c.cost))
                                                  .where(sessions.c.session_id == sid)).scalar()
                 for sid in (f"s{n}" for n in range(len(costs)))}  # fmt: skip
        assert found == {n: band(cost) for n, cost in enumerate(costs)}
        for each in {band(cost) for cost in costs}:
            picked = connection.execute(select(sessions.c.session_id).where(*within(each))).scalars()
            assert sorted(int(sid[1:]) for sid in picked) == [n for n, cost in enumerate(costs) if band(cost) == each]


def _event(n: int, session: str, at: dt.datetime, seconds: int, **fields: Any) -> dict[str, Any]:
    # Deepgram nova-3 at $0.0043 a minute: 1 second to 10 days of audio is $0.00007 to $62, dozens of bands.
    return {"event_id": f"e{n}", "ts": at.isoformat(), "service": "deepgram", "model": "nova-3",
            "usage": {"audio_seconds": seconds}, "session_id": session, **fields}  # fmt: skip


def _workload(rng: random.Random) -> list[dict[str, Any]]:
    events = []
    for n in range(900):
        at = T0 + dt.timedelta(minutes=rng.randrange(0, 8 * 24 * 60))  # 29 October to 6 November
        seconds = rng.choice((0, 1, 7, 60, 60, 600, 3_600, 86_400, 864_000, rng.randrange(1, 100_000)))
        fields = {"mode": rng.choice(("voice", "text", "council"))} if rng.random() < 0.4 else {}
        if rng.random() < 0.05:  # unpriced: the session's cost does not grow
            events.append({**_event(n, f"s{rng.randrange(150)}", at, seconds), "model": "no-such-model", **fields})
        else:
            events.append(_event(n, f"s{rng.randrange(150)}", at, seconds, **fields))
    events += rng.sample(events, 60)  # repeated event ids
    rng.shuffle(events)
    return events


RANGES = [
    Filters(), Filters(since=dt.date(2026, 10, 29), until=dt.date(2026, 10, 29)),
    Filters(since=dt.date(2026, 10, 30), until=dt.date(2026, 11, 2)), Filters(since=dt.date(2026, 11, 1)),
    Filters(until=dt.date(2026, 10, 31)), Filters(since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 30)),
    Filters(since=dt.date(2026, 11, 3), until=dt.date(2026, 11, 3), dims={"mode": "voice"}),
    Filters(dims={"mode": "council"}), Filters(since=dt.date(2027, 1, 1)),
]  # fmt: skip


def test_percentiles_from_the_bands_equal_every_session_ranked(store_url: str) -> None:
    """After each batch of a shuffled workload (sessions whose cost grows across batches and bands, ties,
    zero costs, unpriced events, sessions without a mode), each mode's count, cost, p50 and p90 over each
    range equal those of every session of the range ranked in Python."""
    events = _workload(random.Random(21))
    with Ledger(store_url) as ledger:
        for start in range(0, len(events), 113):
            ledger.record_many(events[start : start + 113])
            with ledger.store.engine.connect() as connection:
                for filters in RANGES:
                    kept = session_modes.kept_mode_costs(connection, filters)
                    assert kept == session_modes._ranked(range_sessions(connection, filters)), filters
        assert check_store(ledger.store) == []
        with ledger.store.engine.connect() as connection:
            everything = session_modes.kept_mode_costs(connection, Filters())
            used = connection.execute(select(session_bands.c.band).distinct()).scalars().all()
    assert everything is not None and {m.mode for m in everything} == {None, "voice", "text", "council"}
    assert sum(m.sessions for m in everything) == 150
    assert len(used) > 20  # the costs spread over many bands, so the ranks fall in many


def test_filters_the_bands_do_not_answer_and_a_store_without_them(store_url: str) -> None:
    events = _workload(random.Random(22))[:300]
    with Ledger(store_url) as ledger:
        ledger.record_many([{**e, "tier": "pro"} if n % 2 else e for n, e in enumerate(events)])
        with ledger.store.engine.connect() as connection:
            for filters in (Filters(dims={"tier": "pro"}), Filters(dims={"user_id": "u"}), Filters(unpriced=True),
                            Filters(dims={"mode": ""})):  # fmt: skip
                assert session_modes.kept_mode_costs(connection, filters) is None
        # A store whose bands were never counted (filled in bulk): the sessions answer, as they did.
        with ledger.store.engine.begin() as connection:
            connection.execute(delete(session_bands))
        with ledger.store.engine.connect() as connection:
            assert session_modes.kept_mode_costs(connection, Filters()) is None
            assert (
                session_modes.session_costs_by_mode(connection)
                == session_modes._scanned_sessions(connection, Filters())[0]
            )


def test_db_check_finds_each_wrong_band_count(store_url: str) -> None:
    day = T0.date()
    with Ledger(store_url) as ledger:
        ledger.record_many([_event(1, "s1", T0, 60, mode="voice"), _event(2, "s2", T0, 60, mode="voice"),
                            _event(3, "s3", T0 + dt.timedelta(days=1), 1)])  # fmt: skip
        assert check_store(ledger.store) == []
        with ledger.store.engine.begin() as connection:
            b = session_bands.c
            # s1 and s2: a minute of nova-3 each, $0.0043 = 4,300,000 nano-dollars: 7 digits, 43.
            connection.execute(update(session_bands).where(b.day == day, b.mode == "voice", b.band == 743)
                               .values(sessions=b.sessions + 1))  # fmt: skip
            connection.execute(delete(session_bands).where(b.day == day + dt.timedelta(days=1)))
            connection.execute(insert(session_bands).values(day=day, tier="", mode="voice", band=744, sessions=1))
        found = sorted((d.table, tuple(d.key.values()), d.field, d.stored, d.recounted)
                       for d in check_store(ledger.store))  # fmt: skip
    # s3: a second, $0.0000716666… to the nano-dollar 71,667: 5 digits, 71.
    assert found == [
        ("session_bands", ("2026-10-29", "", "voice", "743"), "sessions", "3", "2"),
        ("session_bands", ("2026-10-29", "", "voice", "744"), "row", "present", None),
        ("session_bands", ("2026-10-30", "", "", "571"), "row", None, "present"),
    ]
