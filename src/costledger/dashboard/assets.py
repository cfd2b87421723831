"""The dashboard's static files: our CSS, script and icon, and the charting library, each served
under a URL that names its content (`?v=<hash>`), so a browser keeps it for a year and fetches it
again only when it changes, and gzipped once, in memory, for every request that accepts gzip.

The charting library comes from an installed package, never a CDN: plotly.js's basic bundle
(bar, pie and scatter: all our charts draw, a quarter of the size) from the npm package
`plotly.js-basic-dist-min` that `make install` puts in the project's node_modules (or the file
$COSTLEDGER_PLOTLY_JS names); where it is not installed, the full plotly.min.js of the `plotly`
Python package.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLOTLY_ENV = "COSTLEDGER_PLOTLY_JS"
BASIC_BUNDLE = Path("node_modules") / "plotly.js-basic-dist-min" / "plotly-basic.min.js"
OURS = {"dashboard.css": "text/css", "dashboard.js": "text/javascript", "favicon.svg": "image/svg+xml"}
CHARTS = "charts.js"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    origin: str  # where it came from, for people and tests

    @functools.cached_property
    def version(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:16]

    @functools.cached_property
    def gzipped(self) -> bytes:
        # mtime=0: the same bytes every time, so the compressed file is as cacheable as the plain one.
        return gzip.compress(self.body, compresslevel=9, mtime=0)


def _project_roots() -> list[Path]:
    """Where a source checkout's node_modules can be: the project root above this package, the cwd."""
    return [HERE.parents[2], Path.cwd()]


def charting_library() -> tuple[Path, str]:
    """(the plotly.js bundle to serve, what it is)."""
    named = os.environ.get(PLOTLY_ENV)
    if named and Path(named).is_file():
        return Path(named), f"${PLOTLY_ENV}"
    for root in _project_roots():
        candidate = root / BASIC_BUNDLE
        if candidate.is_file():
            return candidate, "npm plotly.js-basic-dist-min"
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")), "python plotly (full bundle)"


@functools.cache
def asset(name: str) -> Asset | None:
    """One static file by its public name, read once."""
    if name == CHARTS:
        path, origin = charting_library()
        return Asset(name, path.read_bytes(), "text/javascript", origin)
    if name in OURS:
        return Asset(name, (HERE / "static" / name).read_bytes(), OURS[name], "costledger")
    return None


def url(name: str) -> str:
    found = asset(name)
    return f"/assets/{name}" + (f"?v={found.version}" if found else "")


__all__ = ["CHARTS", "Asset", "asset", "charting_library", "url"]
