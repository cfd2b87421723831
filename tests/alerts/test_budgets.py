"""Budgets that block: check, reserve, settle, expire; concurrent callers never overspend."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from costledger import Ledger, clock
from costledger.errors import BudgetExceeded, ConfigError

from .conftest import cost_event, ledger_with

NOW = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
USER_DAY = '[[budgets]]\nscope = "user"\nperiod = "day"\nlimit_usd = "1.00"\n'


def test_check_budget_raises_with_the_limit_the_spend_and_what_is_left(db_path: Path) -> None:
    with ledger_with(db_path, USER_DAY) as ledger:
        ledger.record(cost_event("0.70", ts=NOW, user_id="u1"))
        ledger.record(cost_event("0.90", ts="2026-01-01T10:00:00Z", user_id="u1"))  # another day: not today's spend
        ok = ledger.check_budget("0.30", user_id="u1")
        with pytest.raises(BudgetExceeded) as raised:
            ledger.check_budget("0.31", user_id="u1")
        other = ledger.check_budget("1.00", user_id="u2")  # each user has their own dollar
    assert ok.allowed and ok.remaining == Decimal("0.3")
    exc = raised.value
    assert (exc.limit, exc.spent, exc.reserved, exc.remaining, exc.estimate) == (
        Decimal("1.00"), Decimal("0.7"), Decimal(0), Decimal("0.3"), Decimal("0.31"),
    )  # fmt: skip
    assert "limit $1, spent $0.7, reserved $0, left $0.3, asked $0.31" in str(exc)
    assert other.allowed and other.spent == 0


def test_a_reservation_holds_money_until_the_sessions_events_settle_it(db_path: Path) -> None:
    with ledger_with(db_path, USER_DAY) as ledger:
        first = ledger.session("a", user_id="u1")
        held = first.reserve("0.60")
        with pytest.raises(BudgetExceeded) as raised:
            ledger.session("b", user_id="u1").reserve("0.50")
        assert raised.value.reserved == Decimal("0.6")
        first.record(cost_event("0.20", ts=NOW))
        assert held.held_usd == Decimal("0.4")  # the estimate less what was really spent
        check = ledger.check_budget(user_id="u1")
        assert (check.spent, check.reserved) == (Decimal("0.2"), Decimal("0.4"))
        held.release()  # the work is done: what is left of the estimate is free again
        assert ledger.check_budget("0.80", user_id="u1").allowed
        first.record(cost_event("0.50", ts=NOW))  # more than the estimate: the spend counts all the same
        assert ledger.check_budget(user_id="u1").remaining == Decimal("0.3")


def test_reservations_expire(db_path: Path) -> None:
    with ledger_with(db_path, USER_DAY) as ledger:
        ledger.reserve("0.90", user_id="u1", ttl=dt.timedelta(minutes=5))
        assert not ledger.budgets.check("0.2", user_id="u1").allowed
        with clock.use(clock.now() + dt.timedelta(minutes=4, seconds=59)):
            assert not ledger.budgets.check("0.2", user_id="u1").allowed
        with clock.use(clock.now() + dt.timedelta(minutes=5, seconds=1)):
            assert ledger.check_budget("0.2", user_id="u1").reserved == 0


def test_the_tightest_of_several_budgets_decides(db_path: Path) -> None:
    toml = USER_DAY + '[[budgets]]\nscope = "session"\nlimit_usd = "0.25"\n' + \
        '[[budgets]]\nscope = "tier"\nonly = "free"\nperiod = "month"\nlimit_usd = "5"\n'  # fmt: skip
    with ledger_with(db_path, toml) as ledger:
        with ledger.session("s1", user_id="u1", tier="free") as s:
            s.record(cost_event("0.20", ts=NOW))
            with pytest.raises(BudgetExceeded) as raised:
                s.reserve("0.10")
        assert raised.value.budget == "each session, $0.25"
        check = ledger.check_budget("0.01", session_id="s1")  # the session's user and tier are looked up
        assert check.budget is not None and check.budget.scope == "session" and check.remaining == Decimal("0.05")
        assert ledger.budgets.check("100", user_id="someone-else", tier="pro").allowed is False  # each user: $1
        assert ledger.budgets.check("100", tier="pro").budget is None  # no budget applies: allowed


def test_budget_config_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "costledger.toml"
    path.write_text('[[budgets]]\nscope = "team"\nlimit_usd = "1"\n')
    with pytest.raises(ConfigError, match=r"costledger.toml:2: budgets\[0\].scope: expected one of user"):
        Ledger(tmp_path / "x.db", config=path)
    path.write_text('[[budgets]]\nscope = "user"\n')
    with pytest.raises(ConfigError, match=r"budgets\[0\].limit_usd: is required"):
        Ledger(tmp_path / "x.db", config=path)


def _fifty_callers(target: str) -> tuple[Decimal, int, int]:
    """50 threads, each its own session, each reserving $0.05 and then spending exactly that."""
    estimate = Decimal("0.05")
    toml = '[[budgets]]\nscope = "user"\nperiod = "day"\nlimit_usd = "1.00"\n'
    ledgers = [ledger_with(target, toml) for _ in range(5)]
    barrier = threading.Barrier(50)
    outcome = {"spent": 0, "refused": 0}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def caller(n: int) -> None:
        ledger = ledgers[n % len(ledgers)]
        session = ledger.session(f"call-{n}", user_id="u1")
        try:
            barrier.wait()
            with session.reserve(estimate):
                session.record(cost_event(str(estimate), ts=NOW, event_id=f"call-{n}"))
            with lock:
                outcome["spent"] += 1
        except BudgetExceeded:
            with lock:
                outcome["refused"] += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = ledgers[0].total_usd(user_id="u1")
    for ledger in ledgers:
        ledger.close()
    assert not failures, failures
    return total, outcome["spent"], outcome["refused"]


@pytest.mark.timeout(120)
def test_fifty_concurrent_callers_never_overspend_a_dollar_on_sqlite(db_path: Path) -> None:
    total, spent, refused = _fifty_callers(str(db_path))
    assert total <= Decimal("1.05")
    assert total == Decimal("0.05") * spent and spent + refused == 50 and refused >= 30


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_fifty_concurrent_callers_never_overspend_a_dollar_on_postgres(pg_url: str) -> None:
    total, spent, refused = _fifty_callers(pg_url)
    assert total <= Decimal("1.05")
    assert total == Decimal("0.05") * spent and spent + refused == 50 and refused >= 30
