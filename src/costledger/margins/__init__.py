"""Margins per plan, margin at the plan's limit, what-if repricing and advice.

`arithmetic` is pure (no I/O); `figures` reads the store; `plans`, `whatif` and
`advice` combine the two; `views` gives the JSON the CLI, API and dashboard show.
"""

from __future__ import annotations

from .advice import Advice, advice
from .arithmetic import AtLimit, Margin, allocate, allocate_by, percentile
from .plans import MarginReport, margin_report
from .views import at_limit_json, margins_json, recommendations_json, report_for, timeline
from .whatif import Swap, WhatIfReport, repriced, what_if

__all__ = [
    "Advice",
    "AtLimit",
    "Margin",
    "MarginReport",
    "Swap",
    "WhatIfReport",
    "advice",
    "allocate",
    "allocate_by",
    "at_limit_json",
    "margin_report",
    "margins_json",
    "percentile",
    "recommendations_json",
    "report_for",
    "repriced",
    "timeline",
    "what_if",
]
