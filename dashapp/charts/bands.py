"""Alert bands: when alert rules fired, shaded on the time axis of the other pages' charts.

A chart opts in with `ChartSpec.time_axis`; `render()` adds the bands to a copy of the chart's cached
figure, so that cache never depends on the alert states. The periods come from the alert store, which
the scheduler writes: a band costs one read of an in-memory document, never an evaluation.

By default (`alerts=relevant`) a chart shades only the rules that concern it: those whose series are
about one of its tables; on a page that shows some metrics' causes, the rules of those metrics that
read one of its tables or whose labels its data carries (Operations shades the serving rules, not the
drift ones that read the same predictions), elsewhere (Overview, Correlation) any such rule; and the
rules of the metric areas it names in `ChartSpec.alert_areas` (the agent trades on the model's
sentiment, so its curves show drift).
`alerts=all` shades every rule, `alerts=hide` none; the legend and the footer say what is shaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import groupby

import pandas as pd

from ..alerts.metrics import METRICS
from ..alerts.rules import Rule, configured_rules
from ..alerts.states import SEVERITY_RANK, Period
from ..alerts.store import Snapshot
from .figures import DRIFT_COLORS, DRIFT_TINTS, marked
from .themes import BAND_OPACITY

# Labels go in lanes down from the top, each LANE (a share of the plot) high, at most MAX_LANES. Their width
# is estimated for a half-width panel's plot and 10 px text, so that labels in one lane do not overlap.
LANE, MAX_LANES, PLOT_PX, CHAR_PX = 0.075, 5, 600, 6


@dataclass(frozen=True)
class Band:
    """One rule's overlapping firing periods, merged over its series; `end` None: still firing."""

    rule: str
    series: tuple[str, ...]  # the firing series' label values ("news_category"), "" for a rule without labels
    start: datetime
    end: datetime | None
    severity: str  # the worst reached

    @property
    def names(self) -> str:
        """The rule and its series, as the Alerts page names them: "feature_drift news_category, vix"."""
        return " ".join(filter(None, [self.rule, ", ".join(filter(None, self.series))]))


def merge(periods: list[tuple[Rule, dict, Period]]) -> list[Band]:
    """Per rule, merge the periods that overlap (a drift on three features is one band); in time order."""
    ordered = sorted(
        ((rule.name, period, " ".join(labels.values())) for rule, labels, period in periods),
        key=lambda item: (item[0], item[1].start),
    )
    bands: list[Band] = []
    for rule, group in groupby(ordered, key=lambda item: item[0]):
        merged: list[Band] = []
        for _, period, series in group:
            last = merged[-1] if merged else None
            if last is None or (last.end is not None and period.start > last.end):
                merged.append(Band(rule, (series,), period.start, period.end, period.severity))
                continue
            end = None if last.end is None or period.end is None else max(last.end, period.end)
            severity = max(last.severity, period.severity, key=SEVERITY_RANK.__getitem__)
            names = last.series + ((series,) if series not in last.series else ())
            merged[-1] = Band(rule, names, last.start, end, severity)
        bands += merged
    return sorted(bands, key=lambda band: (band.start, band.rule))


@dataclass(frozen=True)
class Scope:
    """What a chart is about, to pick the rules whose bands concern it."""

    page: str
    tables: tuple[str, ...]
    labels: frozenset[str]  # the columns of its data: the labels its series carry
    areas: tuple[str, ...]  # metric areas (drift, agent, ...) it also shows

    def concerns(self, rule: Rule, labels: dict) -> bool:
        metric = METRICS[rule.metric]
        if "table" in labels:  # a series about one table (freshness, missing values): that table's charts
            return labels["table"] in self.tables
        if metric.name.split(".")[0] in self.areas:
            return True
        # On a page where some metrics' causes are shown, its own: Operations shades the serving rules, not the
        # drift ones that read the same predictions. The Overview and Correlation go by tables and labels alone.
        if self.page in {m.page for m in METRICS.values()} and metric.page != self.page:
            return False
        return bool(set(metric.tables) & set(self.tables)) or bool(set(metric.labels) & self.labels)


def shaded_periods(
    snapshot: Snapshot, rules: list[Rule], start: datetime, end: datetime, scope: Scope | None
) -> list[tuple[Rule, dict, Period]]:
    """The firing periods over [start, end) of every rule (scope None) or of those that concern the chart."""
    found = snapshot.periods(rules, start, end)
    return found if scope is None else [item for item in found if scope.concerns(item[0], item[1])]


def chart_span(time_axis: str, params: dict, frame: pd.DataFrame) -> tuple[datetime, datetime] | None:
    """The chart's x range: its window, else the span of its time column (a backtest's days)."""
    if "start" in params:
        return params["start"], params["end"]
    times = pd.to_datetime(frame[time_axis]).dropna()
    if times.empty:
        return None
    return times.min().to_pydatetime(), times.max().to_pydatetime()


def add_bands(
    snapshot: Snapshot, config, time_axis: str, params: dict, frame: pd.DataFrame, figure: dict, scope: Scope | None
) -> tuple[dict, list]:
    """The figure with the alert bands over its x range (a copy; the cached one stays as it is), and notes."""
    layout = figure.get("layout", {})
    empty = frame.empty or layout.get("xaxis", {}).get("visible") is False  # an empty state: no time axis
    span = None if empty else chart_span(time_axis, params, frame)
    if span is None or not snapshot.evaluated:
        return figure, []
    left, right = span
    # A window is [start, end); a daily series' last point stands for its whole day.
    end = right if "start" in params else right + timedelta(days=1)
    periods = shaded_periods(snapshot, configured_rules(config), left, end, scope)
    shown = [(band, max(band.start, left), min(band.end or right, right)) for band in merge(periods)]
    shown = [(band, x0, x1) for band, x0, x1 in shown if x0 < x1]
    kept_from = snapshot.evaluated_at - timedelta(days=config.alert_history_days)
    notes = [f"alert history is kept for {config.alert_history_days} days"] if left < kept_from else []
    if not shown:
        return figure, notes
    rules = sorted({band.rule for band, _, _ in shown})
    which = "every rule" if scope is None else "the rules about this chart, alerts=all for every rule"
    notes.append(f"shaded: {len(shown)} alert periods of {', '.join(rules)} ({which}); hover a label for its series")
    subplots = _subplots(layout)
    critical_last = sorted(shown, key=lambda item: SEVERITY_RANK[item[0].severity])  # drawn over the warnings
    shapes = [shape for band, x0, x1 in critical_last for refs in subplots for shape in _shapes(band, x0, x1, *refs)]
    shapes += _legend_entries(shown, left)
    # Labels are annotations, which widen an autoranged axis to fit their text: pin the range.
    axes = [f"xaxis{x[1:]}" for x, _ in subplots]  # x2 -> xaxis2
    return {
        **figure,
        "layout": {
            **layout,
            **{axis: {"range": [left, right], **layout.get(axis, {})} for axis in axes},
            "showlegend": layout.get("showlegend", True),
            "shapes": [*layout.get("shapes", ()), *shapes],
            "annotations": [*layout.get("annotations", ()), *_labels(shown, left, right)],
        },
    }, notes


def _legend_entries(shown: list[tuple[Band, datetime, datetime]], left: datetime) -> list[dict]:
    """One legend entry per severity, naming its rules; clicking it shows or hides that severity's bands.

    The entry is an empty shape of the bands' legend group, so the bands keep their own names for hovering.
    """
    entries = []
    for severity in ("critical", "warning"):
        rules = sorted({band.rule for band, _, _ in shown if band.severity == severity})
        if rules:
            entries.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "x0": left,
                    "x1": left,
                    "y0": 0,
                    "y1": 0,
                    "fillcolor": DRIFT_TINTS[severity],
                    "line": {"color": DRIFT_COLORS[severity], "width": 1},
                    "showlegend": True,
                    "legendgroup": f"alerts-{severity}",
                    "legendrank": 2000,
                    "name": f"{severity} alert: {_listed(rules)}",
                }
            )
    return entries


def _listed(names: list[str], most: int = 3) -> str:
    """Names for a legend entry: a few, and how many more (the footer names them all)."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _subplots(layout: dict) -> list[tuple[str, str]]:
    """(x axis, y axis domain) of each subplot: a band below the data is drawn in each one (stacked figures)."""
    names = sorted(k for k in layout if re.fullmatch(r"xaxis\d*", k)) or ["xaxis"]
    return [(name.replace("axis", ""), layout.get(name, {}).get("anchor", "y") + " domain") for name in names]


def _shapes(band: Band, x0: datetime, x1: datetime, xref: str, yref: str) -> list[dict]:
    """A light band over the subplot's height, below the data, and a line where it began (if in view): the
    line says when, the band how long. Several rules often fire at once, so the fill stays faint."""
    area = {
        "xref": xref,
        "yref": yref,
        "y0": 0,
        "y1": 1,
        "layer": "below",
        "name": f"alert {band.severity}: {band.names}",
        "legendgroup": f"alerts-{band.severity}",
        "showlegend": False,
    }
    shapes = [
        {
            **area,
            "type": "rect",
            "x0": x0,
            "x1": x1,
            "fillcolor": DRIFT_COLORS[band.severity],  # themes.py draws it stronger on a dark plot
            "opacity": BAND_OPACITY["light"],
            "line": {"width": 0},
        },
    ]
    if band.start >= x0:
        line = {"color": DRIFT_COLORS[band.severity], "width": 1.5, "dash": "dot"}
        shapes.append({**area, "type": "line", "x0": band.start, "x1": band.start, "line": line})
    return shapes


def _labels(shown: list[tuple[Band, datetime, datetime]], left: datetime, right: datetime) -> list[dict]:
    """Each band's rule at its left edge (its right one where the text would leave the plot), in lanes from the
    top so that no two labels overlap; hovering one names the series, the severity and the period.

    Critical and long bands are placed first: when the lanes run out, a warning's blip goes unlabelled.
    """
    per_char = (right - left) * CHAR_PX / PLOT_PX
    lanes: list[list[tuple[datetime, datetime]]] = [[] for _ in range(MAX_LANES)]  # the labels' extents in each
    labels = []
    for band, x0, x1 in sorted(shown, key=lambda item: (-SEVERITY_RANK[item[0].severity], item[1] - item[2])):
        count = sum(1 for s in band.series if s)
        text = marked(band.rule, band.severity) + (f" ×{count}" if count > 1 else "")  # severity by sign too
        width = per_char * (len(text) + 2)
        flip = x0 + width > right
        first, last = (x1 - width, x1) if flip else (x0, x0 + width)
        lane = next((i for i, taken in enumerate(lanes) if all(last <= a or b <= first for a, b in taken)), None)
        if lane is None:
            continue
        lanes[lane].append((first, last))
        when = f"{_when(band.start)} → " + ("still firing" if band.end is None else _when(band.end))
        labels.append(
            {
                "text": text,
                "hovertext": f"{band.names}<br>{band.severity} · {when}",
                "x": x1 if flip else x0,
                "xref": "x",
                "xanchor": "right" if flip else "left",
                "y": 1 - lane * LANE,
                "yref": "paper",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 10, "color": "#343a40"},
                "bgcolor": "rgba(255, 255, 255, 0.8)",
                "bordercolor": DRIFT_COLORS[band.severity],
            }
        )
    return labels


def _when(moment: datetime) -> str:
    return f"{moment:%b %d}" if moment.time() == time(0) else f"{moment:%b %d %H:%M}"
