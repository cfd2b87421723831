"""The sessions started per day, tier and mode, kept by the writer (store/session_starts.py): equal to a
count of the sessions table after every way a batch can move a session between days, tiers and modes,
on both backends; read for the counts of a range; recounted by `db check`."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from costledger import Ledger
from costledger.store.check import check_store
from costledger.store.schema import events, session_starts, sessions
from costledger.store.session_counts import _counted, session_counts
from costledger.store.session_starts import kept_counts, kept_modes
from costledger.store.sessions_query import session_conditions
from costledger.store.types import Filters
from costledger.store.writer import add_to_rollups

T0 = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
D0, D1, D2 = (dt.date(2026, 11, 18) + dt.timedelta(days=n) for n in range(3))


def _event(n: int, session: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "ts": at.isoformat(), "service": "deepgram", "model": "nova-3",
            "usage": {"audio_seconds": 10 + n}, "session_id": session, **fields}  # fmt: skip


def _kept(ledger: Ledger, filters: Filters = Filters()) -> dict[tuple[Any, ...], int]:
    """The kept counts, checked against the sessions table: the counts grouped from it as the pages read
    them before, and each mode's sessions and cost as the sessions' own rows sum them."""
    with ledger.store.engine.connect() as connection:
        found = kept_counts(connection, filters)
        counted = _counted(connection, filters, ("tier", "mode"))
        modes = kept_modes(connection, filters)
        summed: dict[str | None, tuple[int, int]] = {}
        for mode, high, low in connection.execute(
            select(sessions.c.mode, sessions.c.cost_high, sessions.c.cost).where(
                sessions.c.events > 0, *session_conditions(connection, filters)
            )
        ):
            had = summed.get(mode or None, (0, 0))
            summed[mode or None] = (had[0] + 1, had[1] + high * 10**18 + low)
    assert found is not None
    assert found == {(day, tier or None, mode or None): n for (day, tier, mode), n in counted.items()}
    assert modes == summed
    return found


def test_a_session_moves_between_days_tiers_and_modes_as_its_events_arrive(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        # s1's later event first: no tier, no mode, on D2.
        ledger.record_many([_event(1, "s1", T0 + dt.timedelta(days=1))])
        assert _kept(ledger) == {(D2, None, None): 1}
        # An earlier event names its tier and mode: the session now started on D1 as pro, voice.
        ledger.record_many([_event(2, "s1", T0, tier="pro", mode="voice")])
        assert _kept(ledger) == {(D1, "pro", "voice"): 1}
        # A later event naming another tier changes nothing: a session's tier is the first named.
        ledger.record_many([_event(3, "s1", T0 + dt.timedelta(hours=2), tier="free")])
        assert _kept(ledger) == {(D1, "pro", "voice"): 1}
        # A session opened without an event counts nowhere; its first event counts it on the day it opened.
        ledger.store.touch_session("s2", (T0 - dt.timedelta(days=1)).replace(tzinfo=None), {"tier": "free"})
        assert _kept(ledger) == {(D1, "pro", "voice"): 1}
        ledger.record_many([_event(4, "s2", T0 + dt.timedelta(hours=1), mode="text")])
        assert _kept(ledger) == {(D1, "pro", "voice"): 1, (D0, "free", "text"): 1}
        # Opened again earlier still (ledger.session's start): s1 moves to D0.
        ledger.store.touch_session("s1", (T0 - dt.timedelta(days=1, hours=3)).replace(tzinfo=None), {})
        assert _kept(ledger) == {(D0, "pro", "voice"): 1, (D0, "free", "text"): 1}
        # Repeated events count nothing; one batch with two new sessions and one known across days.
        ledger.record_many([_event(4, "s2", T0), _event(5, "s3", T0 + dt.timedelta(days=1), tier="pro"),
                            _event(6, "s3", T0, mode="voice"), _event(7, "s4", T0), _event(8, "s2", T0)])  # fmt: skip
        assert _kept(ledger) == {(D0, "pro", "voice"): 1, (D0, "free", "text"): 1, (D1, "pro", "voice"): 1,
                                 (D1, None, None): 1}  # fmt: skip
        assert check_store(ledger.store) == []
        # Every event of s3 taken out (a reprice's first half) and put back.
        with ledger.store.engine.begin() as connection:
            rows = [dict(r._mapping) for r in connection.execute(select(events).where(events.c.session_id == "s3"))]
            add_to_rollups(connection, rows, sign=-1)
            assert kept_counts(connection, Filters()) == {(D0, "pro", "voice"): 1, (D0, "free", "text"): 1,
                                                          (D1, None, None): 1}  # fmt: skip
            add_to_rollups(connection, rows, sign=1)
        assert _kept(ledger)[(D1, "pro", "voice")] == 1
        assert check_store(ledger.store) == []
        # A range, and filters by tier and mode.
        assert _kept(ledger, Filters(since=D1, until=D1)) == {(D1, "pro", "voice"): 1, (D1, None, None): 1}
        assert _kept(ledger, Filters(dims={"tier": "pro"})) == {(D0, "pro", "voice"): 1, (D1, "pro", "voice"): 1}
        assert _kept(ledger, Filters(until=D0, dims={"mode": "text"})) == {(D0, "free", "text"): 1}


def test_kept_counts_equal_the_sessions_after_a_shuffled_workload(store_url: str) -> None:
    """Sessions over several days whose events arrive shuffled, in batches, some repeated, tiers and modes
    named by some events only: after each batch the kept counts equal the sessions table's."""
    rng = random.Random(20)
    batch: list[dict[str, Any]] = []
    for n in range(400):
        at = T0 + dt.timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        fields = {"tier": rng.choice(("free", "pro"))} if rng.random() < 0.3 else {}
        if rng.random() < 0.3:
            fields["mode"] = rng.choice(("voice", "text", "council"))
        batch.append(_event(n, f"s{rng.randrange(60)}", at, **fields))
    batch += rng.sample(batch, 40)  # repeated event ids
    rng.shuffle(batch)
    with Ledger(store_url) as ledger:
        for start in range(0, len(batch), 37):
            ledger.record_many(batch[start : start + 37])
            _kept(ledger)
        assert sum(_kept(ledger).values()) == len({e["session_id"] for e in batch})
        assert check_store(ledger.store) == []


def test_counts_by_more_than_day_tier_and_mode_come_from_the_sessions(tmp_path: Any) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_many([_event(1, "s1", T0, user_id="u1", agent="a", tier="pro"),
                            _event(2, "s2", T0, user_id="u2", tier="")])  # fmt: skip
        with ledger.store.engine.connect() as connection:
            for filters in (Filters(dims={"user_id": "u1"}), Filters(dims={"agent": "a"}), Filters(unpriced=True),
                            Filters(dims={"tier": ""}), Filters(tags={"k": "v"})):  # fmt: skip
                assert kept_counts(connection, filters) is None
            # An empty tier is "none" to the kept counts, as to the rollups.
            assert kept_counts(connection, Filters()) == {(D1, "pro", None): 1, (D1, None, None): 1}
            assert session_counts(connection, Filters(dims={"user_id": "u1"}), ["tier"]) == {(D1, "pro"): 1}
            assert session_counts(connection, Filters(dims={"tier": "pro"}), ["mode"]) == {(D1, None): 1}


def _tamper(connection: Connection) -> None:
    t = session_starts.c
    connection.execute(update(session_starts).where(t.day == D1, t.tier == "pro").values(sessions=t.sessions + 1,
                                                                                          cost=t.cost + 7))  # fmt: skip
    connection.execute(delete(session_starts).where(t.day == D2))
    connection.execute(insert(session_starts).values(day=D0, tier="ghost", mode="", sessions=3))


def test_db_check_finds_each_wrong_kept_count(store_url: str) -> None:
    with Ledger(store_url) as ledger:
        ledger.record_many([_event(1, "s1", T0, tier="pro", mode="voice"), _event(2, "s2", T0, tier="pro",
                            mode="voice"), _event(3, "s3", T0 + dt.timedelta(days=1))])  # fmt: skip
        assert check_store(ledger.store) == []
        with ledger.store.engine.begin() as connection:
            _tamper(connection)
        found = sorted((d.table, tuple(d.key.values()), d.field, d.stored, d.recounted)
                       for d in check_store(ledger.store))  # fmt: skip
    # s1 and s2: 11 and 12 audio seconds of nova-3 at $0.0043 a minute: $0.000788333 (each event to the
    # nano-dollar) + $0.00086 = $0.001648333; 7 nano-dollars added.
    assert found == [
        ("session_starts", ("2026-11-18", "ghost", ""), "row", "present", None),
        ("session_starts", ("2026-11-19", "pro", "voice"), "cost", "0.00164834", "0.001648333"),
        ("session_starts", ("2026-11-19", "pro", "voice"), "sessions", "3", "2"),
        ("session_starts", ("2026-11-20", "", ""), "row", None, "present"),
    ]


@pytest.mark.parametrize("known", [True, False], ids=["known session", "new session"])
def test_two_writers_moving_one_session_at_once_count_it_once(store_url: str, known: bool) -> None:
    """A writer that writes a session while another's transaction has written it and not yet committed
    reads the session as that one leaves it (PostgreSQL: FOR UPDATE, a row inserted to lock for a new
    session; SQLite: one writer at a time), not as it was before: else both move it from the same row."""
    first_in, release = threading.Event(), threading.Event()
    with Ledger(store_url) as a, Ledger(store_url) as b:
        if known:
            a.record_many([_event(1, "s", T0 + dt.timedelta(days=1))])

        def hold(_connection: Connection, _written: Any) -> None:
            first_in.set()
            assert release.wait(20)

        a.store.on_write.append(hold)
        errors: list[BaseException] = []

        def run(ledger: Ledger, event: dict[str, Any]) -> None:
            try:
                ledger.record_many([event])
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        first = threading.Thread(target=run, args=(a, _event(2, "s", T0, tier="pro")))
        first.start()
        assert first_in.wait(20)
        second = threading.Thread(target=run, args=(b, _event(3, "s", T0 - dt.timedelta(days=1), mode="voice")))
        second.start()
        time.sleep(0.5)  # the second writer reaches the sessions (or SQLite's lock) and waits there
        release.set()
        first.join(30)
        second.join(30)
        a.store.on_write.remove(hold)
        assert errors == []
        assert _kept(a) == {(D0, "pro", "voice"): 1}
        assert check_store(a.store) == []
