"""Every read command of the README on the demo ledger, as a person runs it: a new process each time.

Ours: `costledger COMMAND` with no flags, in the directory where `costledger demo` wrote its
costledger.toml (so the command finds the demo's ledger and plans itself), at COLUMNS=80,
output to a pipe. Wall time from spawn to exit, median of RUNS, plus the CPU time the
process used (user + system, from the OS): wall time on a busy machine waits for a core,
CPU time does not.

Baseline, same run, same ledger: a Python process that opens the same SQLite file with the
standard library and counts its events (`python -c "import sqlite3; …"`): the least any
command that reads the ledger in a new Python process can cost. The ratio is ours over it.

The demo ledger is `costledger demo --no-serve` (90 days, seed 7: about 35,000 events,
2,700 sessions, 160 users), recorded once into a temporary directory.

    python -m bench cli
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
GOAL_SECONDS = 1.0
# The README's read commands, with no flags (whatif needs the swap it prices).
COMMANDS = [
    ["overview"], ["sessions"], ["session", "{session}"], ["report"], ["report", "--by", "service,user"],
    ["margins"], ["advice"],
    ["whatif", "--swap", "anthropic:claude-sonnet-4-0=anthropic:claude-haiku-4-5", "--agent", "synthesizer"],
    ["prices"], ["price", "anthropic", "claude-sonnet-4-20250514", "--input-tokens", "8000"],
    ["keys", "list"], ["alerts", "list"], ["alerts", "history"], ["db", "check"], ["reprice", "--history"],
]  # fmt: skip
COSTLEDGER = str(Path(sys.executable).with_name("costledger"))


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process; it must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    # As a person's shell has it: no COSTLEDGER_ settings, and Python writing bytecode (a machine like CI's
    # sets PYTHONDONTWRITEBYTECODE, which made every command compile costledger's modules again: ~0.2 s).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "80"
    with tempfile.TemporaryDirectory(prefix="costledger-bench-cli-") as tmp:
        here = Path(tmp)
        _run([COSTLEDGER, "demo", "--no-serve"], here, env)
        database = here / "costledger-demo" / "ledger.db"
        import sqlite3

        with sqlite3.connect(database) as connection:
            session = connection.execute("SELECT session_id FROM sessions ORDER BY cost DESC LIMIT 1").fetchone()[0]
        baseline_code = (
            f"import sqlite3; sqlite3.connect({str(database)!r}).execute('SELECT count(*) FROM events').fetchone()"
        )
        print(f"cli: {RUNS} runs each on the demo ledger; load {_load()}")
        for command in COMMANDS:
            argv = [COSTLEDGER, *(part.format(session=session) for part in command)]
            _run(argv, here, env)  # the first run warms the page cache, as a second look at a ledger does
            ours, base = [], []
            for _ in range(RUNS):  # interleaved, so a burst of load falls on both
                ours.append(_run(argv, here, env))
                base.append(_run([sys.executable, "-c", baseline_code], here, env))
            (wall, cpu), (base_wall, base_cpu) = _median(ours), _median(base)
            mark = "✓" if wall <= GOAL_SECONDS else "✗"
            print(f"  costledger {' '.join(command[:2]):<24} {wall * 1000:7.0f} ms wall ({cpu * 1000:5.0f} ms CPU)  "
                  f"baseline python+sqlite3 {base_wall * 1000:5.0f} ms ({base_cpu * 1000:4.0f} ms CPU)  "
                  f"{wall / base_wall:5.1f}×  goal ≤ {GOAL_SECONDS:.0f} s {mark}")  # fmt: skip
        print(f"  load after: {_load()}")


if __name__ == "__main__":
    main()
