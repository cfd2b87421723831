"""The one clock: real UTC time, pinned by $COSTLEDGER_NOW for a process or by `clock.use()` in code."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costledger import clock
from costledger.errors import ConfigError

COSTLEDGER = str(Path(sys.executable).with_name("costledger"))


def test_unpinned_it_is_real_utc_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.ENV)
    before = dt.datetime.now(dt.UTC)
    read = clock.now()
    assert before <= read <= dt.datetime.now(dt.UTC) and read.tzinfo is dt.UTC
    assert clock.current() is clock.SYSTEM
    low = int(dt.datetime.now(dt.UTC).timestamp() * 1000) - 1
    assert low <= clock.milliseconds() <= int(dt.datetime.now(dt.UTC).timestamp() * 1000) + 1


def test_the_environment_pins_it_and_any_offset_is_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV, "2027-01-01T00:30:00+01:00")
    assert clock.now() == dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert clock.today() == dt.date(2026, 12, 31)  # the UTC day, not the offset's
    assert clock.utcnow() == dt.datetime(2026, 12, 31, 23, 30) and clock.utcnow().tzinfo is None
    assert clock.timestamp() == dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC).timestamp()
    assert clock.milliseconds() == 1_798_759_800_000  # 2026-12-31T23:30Z in Unix milliseconds, by hand
    assert clock.now() == clock.now()  # pinned: it does not move


@pytest.mark.parametrize("text", ["2026-12-01", "2026-12-01T09:00:00", "yesterday", "", "1764579600"])
def test_anything_but_an_instant_with_an_offset_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="COSTLEDGER_NOW: expected an RFC 3339 instant"):
        clock.parse_instant(text)


def test_use_pins_it_in_code_over_the_environment_and_nests() -> None:
    outer = dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC)
    inner = dt.datetime(2027, 3, 31, 23, 59, 59, tzinfo=dt.UTC)
    with clock.use(outer):
        assert clock.now() == outer
        with clock.use(inner):
            assert clock.today() == dt.date(2027, 3, 31)
        assert clock.now() == outer
    assert clock.now() == clock.parse_instant(os.environ[clock.ENV])  # back to the run's pin
    with pytest.raises(ValueError, match="offset"):
        clock.FixedClock(dt.datetime(2027, 1, 1))


def test_the_cli_reads_the_pinned_clock_and_refuses_a_bad_one_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "COSTLEDGER_DB": str(tmp_path / "l.db"), "HOME": str(tmp_path)}
    priced = subprocess.run([COSTLEDGER, "price", "deepgram", "nova-3", "--audio-seconds", "60", "--json"],
                            env={**env, clock.ENV: "2028-02-29T23:59:59Z"}, capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert json.loads(priced.stdout)["at"] == "2028-02-29T23:59:59+00:00"
    bad = subprocess.run([COSTLEDGER, "overview"], env={**env, clock.ENV: "tomorrow"}, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "COSTLEDGER_NOW" in bad.stderr
    assert not (tmp_path / "l.db").exists()
