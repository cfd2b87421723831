"""`python -m bench` runs every benchmark; `python -m bench NAME ...` runs those named (bench/NAME.py's main()).

Benchmarks are found, not listed: any module of this package with a `main()` is one.
"""

from __future__ import annotations

import pkgutil
import sys
from importlib import import_module
from pathlib import Path


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    known = available()
    names = argv or known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    for name in names:
        import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
