"""Plotly figures as plain dicts: the page embeds them as JSON, our script draws them.

A point that leads somewhere carries its URL in `customdata`; clicking it follows the
link (a mode's bar opens its sessions, a session's bar opens the session). Money
becomes a float only here, for drawing; the tables beside each chart are exact.
Money axes read in dollars; periods are labelled as people say them ("week of Oct 19",
"Nov 2026"), and a period the range covers only in part is drawn paler and says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

COLORS = ("#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584")
# The parts of the whole cost, always in these colours.
PART_COLORS = {"metered": "#3867d6", "extra": "#fa8231", "fixed": "#8854d0"}
PARTIAL_OPACITY = 0.45
LEGEND_ON_TOP = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "traceorder": "normal"}
MONEY_AXIS = {"tickprefix": "$", "tickformat": ",.2~f", "separatethousands": True}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure: dict[str, Any]
    wide: bool = False  # the whole row
    note: str = ""
    double: bool = False  # two columns of the grid (beside a one-column chart)


def layout(money: bool = True, log: bool = False, **extra: Any) -> dict[str, Any]:
    yaxis: dict[str, Any] = {"automargin": True, "rangemode": "tozero", **(MONEY_AXIS if money else {})}
    if log:
        yaxis = {**yaxis, "type": "log", "rangemode": "normal", "tickformat": ",.2~f"}
    return {
        "margin": {"l": 56, "r": 12, "t": 12, "b": 48},
        "height": 300,
        "yaxis": yaxis,
        "xaxis": {"automargin": True},
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        **extra,
    }


def _money(values: Sequence[Decimal | None]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal],
    links: Sequence[str | None] | None = None,
    *,
    horizontal: bool = False,
    texts: Sequence[str | None] | None = None,
    note: str = "",
) -> Chart:
    """Bars; `texts` replaces a bar's amount label where given (a model whose events were unpriced)."""
    trace: dict[str, Any] = {"type": "bar", "marker": {"color": COLORS[0]}}
    if horizontal:
        # Long names (models, modes, sessions) read along the bar, not squeezed under it, and each
        # bar says its amount: a $0.15 bar beside a $61 one is still read.
        trace.update(orientation="h", y=list(labels), x=_money(values), texttemplate="$%{x:,.2f}",
                     textposition="auto", cliponaxis=False,
                     hovertemplate="%{y}: $%{x:,.2f}<extra></extra>")  # fmt: skip
        frame = layout(money=False, xaxis={**MONEY_AXIS, "automargin": True, "rangemode": "tozero"},
                       yaxis={"automargin": True, "autorange": "reversed", "type": "category"},
                       height=max(160, 28 * len(labels) + 70), margin={"l": 8, "r": 16, "t": 8, "b": 36})  # fmt: skip
    else:
        trace.update(x=list(labels), y=_money(values), hovertemplate="%{x}: $%{y:,.2f}<extra></extra>")
        frame = layout()
    if links is not None:
        trace["customdata"] = list(links)
    if texts is not None and horizontal:
        trace.pop("texttemplate")
        trace["text"] = [t if t is not None else f"${float(v):,.2f}" for t, v in zip(texts, values, strict=True)]
    return Chart(chart_id, title, {"data": [trace], "layout": frame}, note=note)


def stacked(
    chart_id: str,
    title: str,
    x: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    *,
    partial: Sequence[bool] | None = None,
    dates: bool = False,
    colors: Sequence[str] | None = None,
    note: str = "",
    wide: bool = False,
    double: bool = False,
) -> Chart:
    """Bars stacked part on part (metered, extra, fixed), one per period; partial periods paler."""
    opacity = [PARTIAL_OPACITY if p else 1.0 for p in partial] if partial else None
    data = []
    for i, (name, values) in enumerate(series):
        marker: dict[str, Any] = {"color": (colors or COLORS)[i % len(colors or COLORS)]}
        if opacity is not None:
            marker["opacity"] = opacity
        data.append({"type": "bar", "name": name, "x": list(x), "y": _money(values), "marker": marker,
                     "hovertemplate": f"{name} %{{x}}: $%{{y:,.2f}}<extra></extra>"})  # fmt: skip
    xaxis: dict[str, Any] = {"automargin": True}
    if dates:
        xaxis.update(type="date", tickformat="%b %d", hoverformat="%a %b %d, %Y")
    else:
        xaxis.update(type="category")
    frame = layout(barmode="stack", showlegend=len(series) > 1, xaxis=xaxis, legend=LEGEND_ON_TOP,
                   margin={"l": 56, "r": 12, "t": 30, "b": 40})  # fmt: skip
    return Chart(chart_id, title, {"data": data, "layout": frame}, wide=wide, note=note, double=double)


def split_bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    colors: Sequence[str],
    links: Sequence[str | None] | None = None,
) -> Chart:
    """Horizontal bars, one per name, split part by part (metered, extra, fixed); click: its link."""
    data = []
    for (name, values), color in zip(series, colors, strict=True):
        trace: dict[str, Any] = {"type": "bar", "orientation": "h", "name": name, "y": list(labels),
                                 "x": _money(values), "marker": {"color": color},
                                 "hovertemplate": f"%{{y}} {name}: $%{{x:,.2f}}<extra></extra>"}  # fmt: skip
        if links is not None:
            trace["customdata"] = list(links)
        data.append(trace)
    frame = layout(money=False, barmode="stack", showlegend=len(series) > 1, legend=LEGEND_ON_TOP,
                   xaxis={**MONEY_AXIS, "automargin": True, "rangemode": "tozero"},
                   yaxis={"automargin": True, "autorange": "reversed", "type": "category"},
                   height=max(180, 26 * len(labels) + 90), margin={"l": 8, "r": 16, "t": 30, "b": 36})  # fmt: skip
    return Chart(chart_id, title, {"data": data, "layout": frame}, wide=True)


def lines(
    chart_id: str,
    title: str,
    x: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | None]]],
    *,
    dates: bool = False,
    times: bool = False,
    wide: bool = False,
    note: str = "",
) -> Chart:
    """One line per series; `dates` or `times` (ISO strings) make the x axis a time axis."""
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers" if len(x) <= 40 else "lines",
            "name": name,
            "x": list(x),
            "y": _money(values),
            "marker": {"color": COLORS[i % len(COLORS)]},
            "hovertemplate": f"{name} %{{x}}: $%{{y:,.2f}}<extra></extra>",
        }
        for i, (name, values) in enumerate(series)
    ]
    xaxis: dict[str, Any] = {"automargin": True}
    if dates or times:
        xaxis.update(type="date", tickformat="%H:%M" if times else "%b %d",
                     hoverformat="%H:%M:%S" if times else "%b %d, %Y")  # fmt: skip
    else:
        xaxis.update(type="category")
    frame = layout(showlegend=len(series) > 1, xaxis=xaxis)
    return Chart(chart_id, title, {"data": data, "layout": frame}, wide=wide, note=note)


def donut(chart_id: str, title: str, labels: Sequence[str], values: Sequence[Decimal],
          colors: Sequence[str] | None = None, note: str = "") -> Chart:  # fmt: skip
    trace = {
        "type": "pie",
        "hole": 0.45,
        "labels": list(labels),
        "values": _money(values),
        "marker": {"colors": list(colors or COLORS)},
        "textinfo": "label+percent",
        "textposition": "inside",
        "hovertemplate": "%{label}: $%{value:,.2f} (%{percent})<extra></extra>",
        "sort": False,
    }
    frame = layout()
    frame.pop("yaxis")
    frame.pop("xaxis")
    return Chart(chart_id, title, {"data": [trace], "layout": {**frame, "showlegend": True}}, note=note)


def week_label(monday: dt.date, partial: bool = False) -> str:
    return f"week of {monday:%b} {monday.day}" + (" (partial)" if partial else "")


def month_label(first: dt.date, partial: bool = False) -> str:
    return f"{first:%b %Y}" + (" (partial)" if partial else "")
