"""Shared figure styling: one look for every chart, and one empty state."""

from __future__ import annotations

import zlib

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

# The template as plotly's default, not per figure: update_layout(template=...) deep-copies and
# re-validates it, 20-30 ms per figure, most of a cached panel's render time (tests/bench).
pio.templates.default = "plotly_white"

# Okabe & Ito's colour-blind-safe palette. Vermillion stands for failure and critical everywhere (the red
# people read as "bad" that deuteranopes still tell from the bluish green of "ok").
BLUE, ORANGE, SKY, GREEN, YELLOW, VERMILLION, PURPLE, GREY = (
    "#0072B2",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#D55E00",
    "#CC79A7",
    "#999999",
)
LABEL_COLORS = {"negative": VERMILLION, "neutral": GREY, "positive": GREEN}
STATUS_COLORS = {"ok": BLUE, "4xx": ORANGE, "5xx": VERMILLION, "success": BLUE, "failed": VERMILLION}
# Drift decisions: a light tint for table rows and a strong colour for marks. A tint is its strong colour
# 20% over white; DARK_TINTS are the same 20% over the dark theme's background (charts/themes.py
# swaps them in, and tables that colour their own rows take them from here).
DRIFT_TINTS = {"critical": "#f7dfcc", "warning": "#faeccc", "ok": "#ccece3", "no data": "#e9ecef", "skipped": "#e9ecef"}
DARK_TINTS = {"critical": "#453021", "warning": "#483d21", "ok": "#1a3d38", "no data": "#343a40", "skipped": "#343a40"}
CRITICAL_HALF, DARK_CRITICAL_HALF = "#eaae80", "#7b4214"  # vermillion 50% over each theme: scales' critical range
DRIFT_COLORS = {
    "critical": VERMILLION,
    "warning": ORANGE,
    "ok": GREEN,
    "no data": "#adb5bd",
    "skipped": "#adb5bd",
}
# A status said by a sign as well as by its colour, for readers who cannot tell the colours apart.
STATUS_MARKS = {"critical": "✖", "warning": "⚠", "ok": "✔"}
# No vermillion: it means failure on every chart.
PALETTE = (BLUE, ORANGE, GREEN, PURPLE, SKY, YELLOW)


LAYOUT = {
    "margin": {"l": 56, "r": 16, "t": 24, "b": 40},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    "hovermode": "x unified",
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "colorway": PALETTE,  # traces without a colour of their own, in the safe palette whatever the template
}


# Curves of more points than this draw with WebGL (scattergl), shorter ones as SVG; plotly.express switches its
# render mode at the same count. The pages' series are thinned (a bucketed one to timerange.MAX_POINTS, 2,000;
# a training curve to 500), so a threshold of a few thousand would never be reached there: at 1,000, a fine
# bucket (a day by the minute, two weeks by the quarter hour: 1,300 to 2,000 points a trace, several traces a
# chart) draws on the GPU, while the default week (672 quarter hours) stays SVG. Browsers keep only about 16
# WebGL contexts a page (one per chart that has a WebGL trace), and a browser without WebGL cannot draw them.
WEBGL_POINTS = 1_000


def curve(**trace) -> go.Scatter | go.Scattergl:
    """A line (or its fill) along many x values: go.Scattergl beyond WEBGL_POINTS points, else go.Scatter.

    For long curves only: a stacked area (stackgroup) cannot be WebGL, and markers, reference lines and the
    rollout markers stay SVG. Traces filled to one another (fill="tonexty") must have the same length, so they
    are of one kind: a fill joins only traces of the same kind.
    """
    kind = go.Scattergl if len(trace["x"]) > WEBGL_POINTS else go.Scatter
    return kind(**trace)


def svg_curves(figure: dict) -> dict:
    """`figure` (a plain dict) with its WebGL curves as SVG ones, for a vector image: kaleido would put a WebGL
    trace into an SVG as a bitmap. curve() gives a scattergl only what a scatter takes too."""
    data = [{**trace, "type": "scatter"} if trace.get("type") == "scattergl" else trace for trace in figure["data"]]
    return {**figure, "data": data}


def base_figure(**layout) -> go.Figure:
    """Return an empty figure with the portal's common layout."""
    fig = go.Figure()
    fig.update_layout(LAYOUT | layout)
    return fig


def stacked_figure(row_heights: list[float], **layout) -> go.Figure:
    """Return an empty figure of rows sharing one time axis, with the portal's common layout."""
    fig = make_subplots(
        rows=len(row_heights), cols=1, shared_xaxes=True, row_heights=row_heights, vertical_spacing=0.06
    )
    fig.update_layout(LAYOUT | layout)
    return fig


def time_figure(params: dict, **layout) -> go.Figure:
    """A figure whose x axis spans the whole selected window, so a data gap or a stale tail shows."""
    fig = base_figure(**layout)
    if "start" in params:
        fig.update_xaxes(range=[params["start"], params["end"]])
    return fig


def empty_figure(reason: str) -> go.Figure:
    """Draw the same empty state for every chart: blank axes and the reason in the middle."""
    fig = base_figure()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text=reason, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14, "color": "#6c757d"}
    )
    return fig


def marked(text: str, status: str) -> str:
    """`text` led by its status's sign (none for a status without one)."""
    mark = STATUS_MARKS.get(status)
    return f"{mark} {text}" if mark else text


def color_map(values) -> dict[str, str]:
    """Give each distinct value a palette colour derived from its name.

    A name keeps its colour whatever else the filters show (a version is the same blue on every
    chart and window); a clash moves the later name to the next free colour.
    """
    colors: dict[str, str] = {}
    for value in sorted(set(values)):
        slot = zlib.crc32(str(value).encode()) % len(PALETTE)
        while PALETTE[slot] in colors.values() and len(colors) < len(PALETTE):
            slot = (slot + 1) % len(PALETTE)
        colors[value] = PALETTE[slot]
    return colors


def table_figure(
    frame: pd.DataFrame,
    headers: dict[str, str],
    empty: str,
    row_colors=None,
    widths: list[float] | None = None,
    raw: dict | None = None,
) -> go.Figure:
    """Render a small frame as a plotly table; `headers` maps columns to titles, in order.

    `row_colors` (one CSS colour per row) tints each row, e.g. by status; `widths` are relative
    column widths (equal by default). `raw` maps a column shown as formatted text ("12.3%", "1,234 / 5,678")
    to the values it sorts and filters by (numbers, dates): the pages' grids (pages/grids.py) read them from
    the trace's meta, so a table is drawn from one frame whether it lands in a grid, an embed or the API.
    """
    if frame.empty:
        return empty_figure(empty)
    fig = base_figure(margin={"l": 4, "r": 4, "t": 4, "b": 4})
    cells = {"values": [frame[c].tolist() for c in headers], "align": "left", "height": 26}
    if row_colors is not None:
        cells["fill_color"] = [list(row_colors)] * len(headers)
    fig.add_trace(
        go.Table(
            header={"values": list(headers.values()), "fill_color": "#f1f3f5", "align": "left"},
            cells=cells,
            columnwidth=widths,
            meta={"raw": {str(list(headers).index(c)): sort_values(v) for c, v in raw.items()}} if raw else None,
        )
    )
    return fig


def sort_values(values) -> list:
    """Values a grid sorts by, as JSON has them: numbers stay numbers, dates and times become ISO text (which sorts
    as time does), and a missing value (None, NaN, NaT) becomes None."""
    out = []
    for value in values:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out.append(None)
        elif hasattr(value, "isoformat"):
            out.append(value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat())
        elif hasattr(value, "item"):  # numpy scalars
            out.append(value.item())
        else:
            out.append(value)
    return out
