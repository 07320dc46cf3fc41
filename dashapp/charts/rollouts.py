"""Rollout markers: when each model version first served traffic, each training run ended and each agent version
began paper trading, drawn as thin dashed vertical lines on the charts over time.

A chart opts in with `ChartSpec.markers` ("models" or "agents"); `render()` adds the lines to a copy of the cached
figure, as it adds the alert bands, so the figure's cache never depends on them. Their queries are cached on their
own tables, which `chart_version()` counts (MARKER_TABLES): a new rollout redraws an auto-refreshing panel and
changes an embed's ETag. Each kind is one trace per subplot on a hidden y axis of [0, 1] laid over the subplot, so
that one legend entry per kind shows or hides all its lines and hovering a line names the version or run and the
time. Only what falls inside the chart's window is drawn; `markers=hide` draws nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from ..backtest.runs import agent_version_starts
from ..db import Database
from ..errors import DataUnavailable
from ..sentiment.rollouts import first_served, training_ends
from ..sqlfiles import load_query

# A mid grey keeps 3:1 against both a white and a dark plot (WCAG's contrast for graphics), so the lines read in
# either theme without a colour of the palette, which means a series on every chart.
COLOR = "#7f8790"
WIDTH = 1.2
# Points per line: hovering finds a line by its points, so they run its whole height (one every 5%).
STEPS = 20
LEGEND_RANK = 2100  # after the data and the alert bands' entries (2000)


@dataclass(frozen=True)
class Marker:
    at: datetime
    text: str  # what hovering the line says


@dataclass(frozen=True)
class Kind:
    """One legend entry and the look of its lines."""

    name: str
    dash: str
    markers: Callable[[Database, dict, tuple[datetime, datetime], pd.DataFrame], list[Marker]]
    tables: tuple[str, ...]


def _utc(moment) -> str:
    return f"{pd.Timestamp(moment):%Y-%m-%d %H:%M} UTC"


def _rollouts(db: Database, params: dict, window: tuple[datetime, datetime], frame: pd.DataFrame) -> list[Marker]:
    served = first_served(db, *window, params.get("model_version"))
    return [
        Marker(at, f"model {version} first served {_utc(at)}")
        for version, at in zip(served["model_version"], served["first_served_at"], strict=True)
    ]


def _training(db: Database, params: dict, window: tuple[datetime, datetime], frame: pd.DataFrame) -> list[Marker]:
    runs = training_ends(db, *window, params.get("model_version"))
    return [
        Marker(at, f"training run {run} ({version}) ended {_utc(at)}")
        for run, version, at in zip(runs["run_id"], runs["model_version"], runs["finished_at"], strict=True)
    ]


def _agents(db: Database, params: dict, window: tuple[datetime, datetime], frame: pd.DataFrame) -> list[Marker]:
    """The versions of the runs the chart shows, each where it began paper trading."""
    run_ids = sorted(set(frame["run_id"]))
    starts = agent_version_starts(db, run_ids, window[0].date(), window[1].date())
    return [
        Marker(day, f"{agent} {version} paper trading from {pd.Timestamp(day):%Y-%m-%d} ({run})")
        for agent, version, day, run in zip(
            starts["agent"], starts["agent_version"], starts["first_day"], starts["run_id"], strict=True
        )
    ]


KINDS: dict[str, tuple[Kind, ...]] = {
    "models": (
        Kind("model rollouts", "dash", _rollouts, load_query("rollout_model_versions").tables),
        Kind("training runs", "dot", _training, load_query("rollout_training_runs").tables),
    ),
    "agents": (Kind("agent versions", "dash", _agents, load_query("rollout_agent_versions").tables),),
}
# The tables each chart's markers read, for chart_version(): the chart's own cache never holds them.
MARKER_TABLES = {name: tuple(dict.fromkeys(t for kind in kinds for t in kind.tables)) for name, kinds in KINDS.items()}


def marker_window(time_axis: str | None, params: dict, frame: pd.DataFrame) -> tuple[datetime, datetime] | None:
    """[start, end) of the chart: its window, else its time column's days (a backtest's; the last day whole)."""
    if "start" in params:
        return params["start"], params["end"]
    times = pd.to_datetime(frame[time_axis]).dropna() if time_axis in frame else pd.Series(dtype="datetime64[ns]")
    if times.empty:
        return None
    return times.min().to_pydatetime(), times.max().to_pydatetime() + timedelta(days=1)


def add_markers(
    db: Database, markers: str, time_axis: str | None, params: dict, frame: pd.DataFrame, figure: dict
) -> tuple[dict, list[str]]:
    """The figure with the markers of `markers` ("models", "agents") in its window (a copy), and notes."""
    layout = figure.get("layout", {})
    if frame.empty or layout.get("xaxis", {}).get("visible") is False:  # an empty state: no time axis
        return figure, []
    window = marker_window(time_axis, params, frame)
    if window is None:
        return figure, []
    found, notes = [], []
    for kind in KINDS[markers]:
        try:
            shown = kind.markers(db, params, window, frame)  # the SQL keeps what falls in the window
        except DataUnavailable as exc:  # the chart's own data is there; only the markers' table is not
            notes.append(f"no {kind.name} marked: {exc.table} is unavailable")
            continue
        if shown:
            found.append((kind, shown))
    if not found:
        return figure, notes
    counts = ", ".join(f"{kind.name} ({len(shown)})" for kind, shown in found)
    notes.append(f"dashed lines: {counts}; hover one for what and when, markers=hide leaves them out")
    traces, axes = _draw(layout, figure.get("data", ()), found)
    return {**figure, "data": [*figure.get("data", ()), *traces], "layout": {**layout, **axes}}, notes


def _draw(layout: dict, data, found: list[tuple[Kind, list[Marker]]]) -> tuple[list[dict], dict]:
    """A hidden y axis of [0, 1] over each subplot, and on it one trace of vertical lines per kind."""
    used = [int(n or 1) for n in re.findall(r"^yaxis(\d*)$", "\n".join(layout), re.M)]
    used += [int(t.get("yaxis", "y")[1:] or 1) for t in data if isinstance(t, dict)]
    number = max(used, default=1)
    traces, axes = [], {}
    for index, (xaxis, yaxis) in enumerate(_subplots(layout)):
        number += 1
        axes[f"yaxis{number}"] = {
            "overlaying": yaxis,
            "anchor": xaxis,
            "range": [0, 1],
            "visible": False,
            "fixedrange": True,
        }
        for kind, markers in found:
            traces.append(_trace(kind, markers, xaxis, f"y{number}", legend=index == 0))
    return traces, axes


def _subplots(layout: dict) -> list[tuple[str, str]]:
    """(x axis, y axis) of each subplot: stacked figures get the lines in every row."""
    names = sorted((k for k in layout if re.fullmatch(r"xaxis\d*", k)), key=lambda k: int(k[5:] or 1)) or ["xaxis"]
    return [(name.replace("axis", ""), layout.get(name, {}).get("anchor", "y")) for name in names]


def _trace(kind: Kind, markers: list[Marker], xaxis: str, yaxis: str, legend: bool) -> dict:
    x, y, text = [], [], []
    heights = [i / STEPS for i in range(STEPS + 1)]
    for marker in markers:
        x += [marker.at] * len(heights) + [None]
        y += [*heights, None]
        text += [marker.text] * len(heights) + [None]
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
        "name": kind.name,
        "legendgroup": f"markers-{kind.name}",
        "legendrank": LEGEND_RANK,
        "showlegend": legend,
        "xaxis": xaxis,
        "yaxis": yaxis,
        "line": {"color": COLOR, "width": WIDTH, "dash": kind.dash},
        "connectgaps": False,
    }
