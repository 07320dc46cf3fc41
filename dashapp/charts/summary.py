"""A chart in one sentence, for those who cannot see it: what kind of chart, of what, and which series.

Screen readers read the drawn SVG as loose tick labels, if at all; each panel and embed is named by its title
and this sentence instead. It reads the figure as the pages send it (the plain dict, or a go.Figure), never
the data, so it costs nothing next to drawing.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_NAMES = 6  # series named in full; the rest are counted
KINDS = {"bar": "bar", "heatmap": "heatmap", "indicator": "key figures", "table": "table"}


def summarize(figure) -> str:
    """One sentence describing `figure` (a plotly figure dict or go.Figure)."""
    figure = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure
    # The data's traces: the rollout markers laid over a chart (legend groups markers-*) are no series of it.
    traces = [
        t
        for t in (figure or {}).get("data") or []
        if isinstance(t, Mapping) and not str(t.get("legendgroup", "")).startswith("markers-")
    ]
    layout = (figure or {}).get("layout") or {}
    notes = [str(a["text"]) for a in layout.get("annotations") or () if isinstance(a, Mapping) and a.get("text")]
    if not traces:
        return " ".join(note.rstrip(".") + "." for note in notes) or "An empty chart."
    if all(t.get("type") == "indicator" for t in traces):
        return "; ".join(_indicator(t) for t in traces) + "."
    if all(t.get("type") == "table" for t in traces):
        return _table(traces[0])
    kinds = list(dict.fromkeys(_kind(t) for t in traces))
    sentence = " and ".join(kinds).capitalize() + " chart"
    y_title, x_title = _axis_title(layout, "yaxis"), _axis_title(layout, "xaxis")
    sentence += f" of {y_title}" if y_title else ""
    sentence += f" by {x_title}" if x_title else ""
    heatmaps = [t for t in traces if t.get("type") == "heatmap"]
    sentence += _grid(heatmaps[0]) if heatmaps else ""
    names = list(dict.fromkeys(str(t["name"]) for t in traces if t.get("name") and t.get("showlegend", True)))
    if names:
        shown = ", ".join(names[:MAX_NAMES])
        more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        sentence += f", {len(names)} series: {shown}{more}"
    return sentence + "."


def _kind(trace: Mapping) -> str:
    kind = trace.get("type") or "scatter"
    if kind in ("scatter", "scattergl"):  # a long curve draws with WebGL (figures.curve): the same line to a reader
        return "line" if "lines" in str(trace.get("mode") or "lines") else "scatter"
    return KINDS.get(kind, kind)


def _grid(trace: Mapping) -> str:
    """A heatmap's size, when its axes are lists of labels: ", 12 columns (AAPL to XOM) by 9 rows (...)"."""
    x, y = trace.get("x"), trace.get("y")
    if not all(hasattr(axis, "__len__") and not isinstance(axis, str | Mapping) and len(axis) for axis in (x, y)):
        return ""
    return (
        f", {len(x)} columns ({_label(x[0])} to {_label(x[-1])}) by {len(y)} rows ({_label(y[0])} to {_label(y[-1])})"
    )


def _label(value) -> str:
    """An axis label as read aloud: a timestamp at midnight is its day, any other to the minute."""
    text = str(value)
    if len(text) > 10 and text[:4].isdigit() and text[10] in "T ":
        return text[:10] if not text[11:].strip("0:.") else text[:16].replace("T", " ")
    return text


def _axis_title(layout: Mapping, axis: str) -> str:
    title = (layout.get(axis) or {}).get("title")
    return str((title.get("text") if isinstance(title, Mapping) else title) or "")


def _indicator(trace: Mapping) -> str:
    title = (trace.get("title") or {}).get("text") or "value"
    value = trace.get("value")
    if value is None:
        return f"{title}: no value"
    number = trace.get("number") or {}
    try:  # plotly's d3 formats for these figures (",.0f", ".2%") read the same in Python
        shown = format(float(value), number.get("valueformat") or ",.4g")
    except (TypeError, ValueError):
        shown = str(value)
    return f"{title}: {number.get('prefix', '')}{shown}{number.get('suffix', '')}"


def _table(trace: Mapping) -> str:
    columns = [str(c) for c in (trace.get("header") or {}).get("values") or ()]
    cells = (trace.get("cells") or {}).get("values")
    rows = len(cells[0]) if cells is not None and len(cells) else 0
    return f"Table of {rows} row{'s' if rows != 1 else ''}" + (f": {', '.join(columns)}." if columns else ".")
