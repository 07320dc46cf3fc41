"""A figure in a theme: the one place that turns a chart's (cached, shared) figure light or dark.

The page panels, the embeds and the PNG/SVG exports all draw `themed(figure, theme)`. Charts are built light
(plotly_white, the tints of figures.py); dark swaps the template for a dark one and each light colour the charts
use for fills and text for its dark counterpart, on a copy. Nothing is validated by plotly on the way: a
template is a plain dict here, so theming costs a walk over the figure's dicts and lists (data arrays are
numpy arrays there and are not walked), not the 20-30 ms of update_layout(template=...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import plotly.io as pio

from ..errors import BadParameter
from .figures import CRITICAL_HALF, DARK_CRITICAL_HALF, DARK_TINTS, DRIFT_TINTS

THEMES = ("light", "dark")
MAX_TITLE = 200
# Bootstrap 5.3's dark body background: a dark figure is the colour of the card it sits in, and an exported
# image the colour of the portal.
DARK_BG = "#212529"
DARK_PANEL = "#343a40"  # Bootstrap's dark tertiary background: table headers
DARK_INK, DARK_MUTED = "#dee2e6", "#adb5bd"  # Bootstrap's dark body text and its secondary text
# Alert bands: a faint strong colour over the plot (several rules often fire at once, and their bands add up:
# four overlapping warnings are a strong orange). A light tint over a dark plot reads as grey mud; the strong
# colour, faint, keeps its hue on both.
BAND_OPACITY = {"light": 0.07, "dark": 0.1}

# Light colour -> its dark counterpart. Keys are written as the charts write them (lower case hex, CSS names).
DARK_COLORS = {
    **{light.lower(): DARK_TINTS[status] for status, light in DRIFT_TINTS.items()},
    CRITICAL_HALF.lower(): DARK_CRITICAL_HALF,
    "white": DARK_BG,
    "#ffffff": DARK_BG,
    "#f8f9fa": "#2b3035",
    "#f1f3f5": DARK_PANEL,  # table headers
    "#fcfad9": "#4a4b2e",  # the Alerts page's pending tint
    "#212529": DARK_INK,  # reference lines and markers drawn in the light theme's ink
    "#343a40": DARK_INK,
    "#495057": DARK_MUTED,
    "#6c757d": DARK_MUTED,
    "rgba(255, 255, 255, 0.8)": "rgba(33, 37, 41, 0.85)",  # alert band labels' backgrounds
}


# A trace's data, never a colour: not walked (after a JSON round trip they are long lists, not numpy arrays).
DATA_KEYS = frozenset({"x", "y", "z", "base", "customdata", "text", "hovertext", "ids", "values", "labels"})


def theme_param(args: Mapping[str, Sequence[str]]) -> str:
    """`theme=light|dark` from a query string (light when absent); a BadParameter naming `theme` otherwise."""
    raw = (args.get("theme") or ["light"])[0]
    if raw not in THEMES:
        raise BadParameter("theme", f"must be one of {', '.join(THEMES)}, got {raw[:20]!r}")
    return raw


def page_theme(args: Mapping[str, Sequence[str]]) -> str:
    """The portal page's theme from its URL: dark only for theme=dark (the navbar's switch rewrites any other)."""
    return "dark" if args.get("theme", [""])[0] == "dark" else "light"


def title_param(args: Mapping[str, Sequence[str]], default: str) -> str:
    """`title=`: the chart's title when absent, none when empty, else the given text (plain, bounded)."""
    values = args.get("title")
    if values is None:
        return default
    if len(values[0]) > MAX_TITLE:
        raise BadParameter("title", f"may be at most {MAX_TITLE} characters, got {len(values[0])}")
    return values[0].strip()


def themed(figure, theme: str) -> dict:
    """A copy of `figure` (a plotly dict, or a go.Figure) in `theme`; the light theme is the figure as built."""
    if not isinstance(figure, dict):
        figure = figure.to_plotly_json()
    if theme != "dark":
        return figure
    layout = {k: _dark(v) for k, v in figure.get("layout", {}).items() if k != "template"}
    layout["template"] = dark_template()
    dark = {**figure, "data": [_dark(trace) for trace in figure.get("data", ())], "layout": layout}
    return _with_band_opacity(dark, BAND_OPACITY["dark"])


def for_frame(figure, theme: str) -> dict:
    """The figure themed to fill its container (an embed's frame): no fixed height or width."""
    figure = themed(figure, theme)
    layout = {k: v for k, v in figure["layout"].items() if k not in ("height", "width")}
    return {**figure, "layout": {**layout, "autosize": True}}


def for_export(figure, theme: str, title: str) -> dict:
    """The figure themed for an image, with `title` above the plot (none when empty)."""
    figure = themed(figure, theme)
    layout = dict(figure["layout"])
    if title:
        margin = layout.get("margin", {})
        legend_on_top = layout.get("legend", {}).get("y", 0) > 1
        # The title sits above the legend that the portal's layout puts over the plot.
        layout["margin"] = {**margin, "t": margin.get("t", 24) + (56 if legend_on_top else 36)}
        layout["title"] = {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"}
    return {**figure, "layout": layout}


@cache
def dark_template() -> dict:
    """plotly_dark on the portal's dark background, as the plain dict figures carry; its tables' slate blue
    cells become the background too, ruled like Bootstrap's dark tables."""
    template = pio.templates["plotly_dark"].to_plotly_json()
    layout = {**template["layout"], "paper_bgcolor": DARK_BG, "plot_bgcolor": DARK_BG}
    rule = {"color": "#495057"}
    table = {
        "type": "table",
        "cells": {"fill": {"color": DARK_BG}, "line": rule},
        "header": {"fill": {"color": DARK_PANEL}, "line": rule},
    }
    return {**template, "layout": layout, "data": {**template["data"], "table": [table]}}


def dark_color(color: str) -> str:
    """The dark theme's counterpart of a light colour the charts use (itself where it needs none)."""
    return DARK_COLORS.get(color.lower(), color)


def _dark(value):
    """`value` with each light colour swapped for its dark one (a new container where anything was walked)."""
    if isinstance(value, str):
        return dark_color(value)
    if isinstance(value, dict):
        return {k: v if k in DATA_KEYS else _dark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dark(v) for v in value]
    return value  # numbers, None, numpy arrays of data


def _with_band_opacity(figure: dict, opacity: float) -> dict:
    """The alert bands (bands.py's shapes, in legend groups alerts-<severity>) at `opacity`."""
    shapes = figure.get("layout", {}).get("shapes")
    if not shapes:
        return figure
    shapes = [
        {**s, "opacity": opacity}
        if s.get("type") == "rect" and str(s.get("legendgroup", "")).startswith("alerts-") and not s.get("showlegend")
        else s
        for s in shapes
    ]
    return {**figure, "layout": {**figure["layout"], "shapes": shapes}}
