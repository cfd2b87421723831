"""`python -m bench` runs every benchmark; `python -m bench NAME ...` runs those named (bench/NAME.py's main())."""

from __future__ import annotations

import sys
from importlib import import_module

ALL = ("pricing", "ingest")


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    for name in names:
        import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
