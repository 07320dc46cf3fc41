"""Alert charts: every rule's state now, and when each alert fired, as the scheduler stored them (alerts/store.py)."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go

from ..alerts.evaluate import as_json
from ..alerts.metrics import METRICS
from ..alerts.rules import configured_rules
from ..alerts.store import open_store
from ..db import Database
from .figures import DRIFT_COLORS, DRIFT_TINTS, base_figure, empty_figure, table_figure
from .page_names import PAGE_NAMES
from .registry import WINDOW, ChartSpec, register

# Worst first: what needs a person on top.
STATE_ORDER = {"firing": 0, "recovering": 1, "pending": 2, "error": 3, "nodata": 4, "ok": 5}
STATE_TINTS = {
    "critical": DRIFT_TINTS["critical"],
    "warning": DRIFT_TINTS["warning"],
    "pending": "#fcfad9",  # the palette's yellow, 20% over white
    "error": DRIFT_TINTS["no data"],
    "ok": "white",
}
TABLES = tuple(dict.fromkeys(t for metric in METRICS.values() for t in metric.tables))


def _series(labels: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


COLUMNS = [
    "rule",
    "metric",
    "series",
    "state",
    "severity",
    "value",
    "comparison",
    "threshold",
    "warning",
    "critical",
    "target",
    "since",
    "error",
    "description",
    "recommendation",
    "link",
]


def current_data(db: Database, params: dict) -> pd.DataFrame:
    """One row per rule and series: its state at the window's end, value, threshold, since and what to do."""
    snapshot = open_store(db.config).load()
    at = min(params["end"], snapshot.evaluated_at) if snapshot.evaluated else params["end"]
    alerts = snapshot.alerts(configured_rules(db.config), at)
    if not alerts:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame([as_json(alert, at) for alert in alerts]).drop(columns=["periods"])
    frame["series"] = frame["labels"].map(_series)
    frame["order"] = frame["state"].map(STATE_ORDER) - frame["severity"].eq("critical")
    frame = frame.sort_values(["order", "rule", "series"], kind="stable").drop(columns=["order", "labels"])
    firing = (frame["state"] == "firing").sum()
    frame.attrs["notes"] = [f"{firing} firing of {len(frame)} rule series"]
    return frame.reset_index(drop=True)[COLUMNS]


def _value(row) -> str:
    if row["value"] is None or pd.isna(row["value"]):
        return "—"
    shown = f"{row['value']:.3g}"
    if row["target"] is not None and not pd.isna(row["target"]):
        shown += f" from {row['target']:.3g}"
    limits = [f"{k} {row['comparison']} {row[k]:.3g}" for k in ("warning", "critical") if not pd.isna(row[k])]
    return f"{shown}<br><span style='color:#6c757d'>{' · '.join(limits)}</span>"


def _todo(error: str | None, advice: str, link: str, metric: str) -> str:
    """The recommendation (or why the rule could not be evaluated), wrapped for a table cell, and the link to the
    page of the metric."""
    page = PAGE_NAMES[METRICS[metric].page]
    text = error if isinstance(error, str) else advice  # None or NaN: the rule evaluated
    return "<br>".join(textwrap.wrap(text, 95)) + f"<br><a href='{link}' target='_self'>open {page} →</a>"


def current_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No alert states yet: the scheduler has not evaluated the rules")
    shown = pd.DataFrame(
        {
            "state": [
                f"<b>{state}</b>" + (f" · {severity}" if isinstance(severity, str) else "")
                for state, severity in zip(frame["state"], frame["severity"], strict=True)
            ],
            "rule": [
                f"<b>{rule}</b><br>{series}" if series else f"<b>{rule}</b>"
                for rule, series in zip(frame["rule"], frame["series"], strict=True)
            ],
            "value": [_value(row) for _, row in frame.iterrows()],
            "since": [s[:16].replace("T", " ") if isinstance(s, str) else "—" for s in frame["since"]],
            "todo": [
                _todo(error, advice, link, metric)
                for error, advice, link, metric in zip(
                    frame["error"], frame["recommendation"], frame["link"], frame["metric"], strict=True
                )
            ],
        }
    )
    headers = {
        "state": "State",
        "rule": "Rule · series",
        "value": "Now · thresholds",
        "since": "Since (UTC)",
        "todo": "What to do",
    }
    tints = [
        STATE_TINTS.get(sev if state in ("firing", "recovering") else state, "white")
        for state, sev in zip(frame["state"], frame["severity"], strict=True)
    ]
    raw = {"value": frame["value"], "since": frame["since"]}
    return table_figure(shown, headers, "No alert rules", row_colors=tints, widths=[1.1, 1.8, 1.6, 1.1, 5], raw=raw)


def timeline_data(db: Database, params: dict) -> pd.DataFrame:
    """Every firing period in the window: rule, series, start, end (the window's end if still firing), severity."""
    snapshot = open_store(db.config).load()
    rows = [
        {
            "rule": rule.name,
            "series": _series(labels),
            "start": period.start,
            "end": period.end or params["end"],
            "still_firing": period.end is None,
            "severity": period.severity,
            "peak": period.peak,
        }
        for rule, labels, period in snapshot.periods(configured_rules(db.config), params["start"], params["end"])
    ]
    columns = ["rule", "series", "start", "end", "still_firing", "severity", "peak"]
    return pd.DataFrame(rows, columns=columns)


def timeline_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No alert fired in this window")
    names = (frame["rule"] + frame["series"].map(lambda s: f" · {s}" if s else "")).rename("name")
    fig = base_figure(
        barmode="overlay",
        hovermode="closest",
        xaxis={"type": "date", "range": [params["start"], params["end"]]},
        # Every series labelled: plotly's automatic ticks drop every other label once they crowd (11 rows).
        yaxis={
            "autorange": "reversed",
            "categoryorder": "array",
            "categoryarray": sorted(set(names)),
            "tickmode": "linear",
            "dtick": 1,
            "tickfont": {"size": 11 if names.nunique() <= 16 else 9},
        },
        margin={"l": 260, "r": 16, "t": 24, "b": 40},
    )
    for severity in ("warning", "critical"):
        part = frame[frame["severity"] == severity]
        if part.empty:
            continue
        duration = (pd.to_datetime(part["end"]) - pd.to_datetime(part["start"])) / timedelta(milliseconds=1)
        fig.add_trace(
            go.Bar(
                y=names[part.index],
                x=duration.clip(lower=60_000),  # a bucket-long blip stays visible
                base=pd.to_datetime(part["start"]),
                orientation="h",
                name=severity,
                marker_color=DRIFT_COLORS[severity],
                customdata=part[["start", "end", "peak"]].astype(str).to_numpy(),
                hovertemplate=f"%{{y}}<br>{severity} · "  # the severity in words, not by colour alone
                + "%{customdata[0]} → %{customdata[1]}<br>peak %{customdata[2]}<extra></extra>",
            )
        )
    return fig


def latest_data(db: Database, params: dict) -> pd.DataFrame:
    """The newest 20 firing periods of the window, for the Overview: the same evaluation as the Alerts page."""
    frame = timeline_data(db, params).sort_values("start", ascending=False, kind="stable")
    firing = frame["still_firing"].sum()
    frame = frame.head(20).reset_index(drop=True)
    frame.attrs["notes"] = [f"{firing} firing now; every rule and what to do on the Alerts page"]
    return frame


def latest_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No alert fired in this window")
    shown = pd.DataFrame(
        {
            "when": [
                f"{start:%Y-%m-%d %H:%M} → " + ("<b>firing now</b>" if still else f"{end:%m-%d %H:%M}")
                for start, end, still in zip(frame["start"], frame["end"], frame["still_firing"], strict=True)
            ],
            "alert": [f"<b>{r}</b> {s}" for r, s in zip(frame["rule"], frame["series"], strict=True)],
            "severity": frame["severity"],
            "peak": [f"{v:.3g}" for v in frame["peak"]],
        }
    )
    headers = {"when": "When (UTC)", "alert": "Alert", "severity": "Severity", "peak": "Peak"}
    tints = [STATE_TINTS[severity] for severity in frame["severity"]]
    raw = {"when": frame["start"], "peak": frame["peak"]}
    widths = [2.2, 3, 0.8, 0.6]
    return table_figure(shown, headers, "No alert fired in this window", row_colors=tints, widths=widths, raw=raw)


register(
    ChartSpec(
        id="overview.alerts",
        title="Latest alerts",
        page="/",
        params=WINDOW,
        data=latest_data,
        figure=latest_figure,
        table=True,
        tables=TABLES,
        store_parts=("periods",),
        description="Firing periods of the alert rules, newest first (all symbols and versions).",
        height=300,
    )
)

register(
    ChartSpec(
        id="alerts.current",
        title="Alert rules now",
        page="/alerts",
        params=WINDOW,
        data=current_data,
        figure=current_figure,
        table=True,
        tables=TABLES,
        store_parts=("rules", "series", "transitions", "periods"),
        links="link",
        description="Each rule on each series of its metric, worst first, with what to do and where to look.",
        height=520,
    )
)
register(
    ChartSpec(
        id="alerts.timeline",
        title="When alerts fired",
        page="/alerts",
        params=WINDOW,
        data=timeline_data,
        figure=timeline_figure,
        tables=TABLES,
        store_parts=("periods",),
        description="Firing periods in the window, warning or critical; a bar that reaches the end still fires.",
        height=360,
    )
)
