"""Plotly figures as plain dicts: the page embeds them as JSON, our script draws them.

A point that leads somewhere carries its URL in `customdata`; clicking it follows the
link (a mode's bar opens its sessions, a session's bar opens the session). Money
becomes a float only here, for drawing; the tables beside each chart are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

COLORS = ("#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584")


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure: dict[str, Any]


def layout(y_title: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "margin": {"l": 56, "r": 12, "t": 12, "b": 48},
        "height": 300,
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "automargin": True},
        "xaxis": {"automargin": True},
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        **extra,
    }


def _money(values: Sequence[Decimal]) -> list[float]:
    return [float(v) for v in values]


def bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal],
    links: Sequence[str | None] | None = None,
    y_title: str = "USD",
) -> Chart:
    trace: dict[str, Any] = {
        "type": "bar",
        "x": list(labels),
        "y": _money(values),
        "marker": {"color": COLORS[0]},
        "hovertemplate": "%{x}: $%{y:,.2f}<extra></extra>",
    }
    if links is not None:
        trace["customdata"] = list(links)
    return Chart(chart_id, title, {"data": [trace], "layout": layout(y_title)})


def lines(
    chart_id: str, title: str, x: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal]]], bar: bool = False
) -> Chart:
    data = [
        {
            "type": "bar" if bar else "scatter",
            "mode": "lines+markers" if len(x) <= 40 else "lines",
            "name": name,
            "x": list(x),
            "y": _money(values),
            "marker": {"color": COLORS[i % len(COLORS)]},
            "hovertemplate": f"{name} %{{x}}: $%{{y:,.2f}}<extra></extra>",
        }
        for i, (name, values) in enumerate(series)
    ]
    return Chart(chart_id, title, {"data": data, "layout": layout(showlegend=len(series) > 1)})


def donut(chart_id: str, title: str, labels: Sequence[str], values: Sequence[Decimal]) -> Chart:
    trace = {
        "type": "pie",
        "hole": 0.45,
        "labels": list(labels),
        "values": _money(values),
        "marker": {"colors": list(COLORS)},
        "textinfo": "label+percent",
        "hovertemplate": "%{label}: $%{value:,.2f} (%{percent})<extra></extra>",
        "sort": False,
    }
    frame = layout()
    frame.pop("yaxis")
    frame.pop("xaxis")
    return Chart(chart_id, title, {"data": [trace], "layout": {**frame, "showlegend": False}})
