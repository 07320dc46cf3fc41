"""Training curves: how each training run's loss and validation metrics moved step by step.

Reads training_metrics (every logged point, written by `dashapp import-mlflow` or the demo) joined to
training_runs for the model version; queries/training_metrics.sql thins long runs in DuckDB.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..db import Database
from .figures import LAYOUT, color_map, curve, empty_figure
from .registry import MODEL_VERSION, WINDOW, ChartSpec, Param, register

MAX_POINTS = 500  # per run and metric: more is no sharper on a panel and only slows the browser
# Line styles for a panel's metrics, and how its key above the panel draws each.
DASHES = {"solid": "——", "dash": "– –", "dot": "···", "dashdot": "–·–", "longdash": "— —", "longdashdot": "—·—"}
METRIC = Param("metric", "text", None, help="one metric key (loss, val_accuracy ...); none = all")


def curves_data(db: Database, params: dict) -> pd.DataFrame:
    """Every run's curves, at most MAX_POINTS per run and metric; not limited to the window (training predates it)."""
    frame = db.run(
        "training_metrics", model_version=params["model_version"], metric=params["metric"], max_points=MAX_POINTS
    )
    notes = ["every training run, whatever the window"]
    if (frame["logged"] > 1).any():
        notes.append(
            f"{frame['logged'].sum():,} logged points drawn as {len(frame):,}: at most {MAX_POINTS} per run and"
            " metric, each the last logged in its span of steps"
        )
    frame.attrs["notes"] = notes
    return frame


def is_loss(metric: str) -> bool:
    """Losses (loss, val_loss, train/loss ...) get their own panel: their scale is not a score's."""
    return "loss" in metric.lower()


def curves_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No training metrics logged for this selection")
    metrics = sorted(frame["metric"].unique())
    grouped = (("loss", [m for m in metrics if is_loss(m)]), ("score", [m for m in metrics if not is_loss(m)]))
    panels = [(title, names) for title, names in grouped if names]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.update_layout(LAYOUT | {"hovermode": "closest"})
    palette = color_map(frame["model_version"].unique())
    runs = frame.drop_duplicates("run_id")
    latest = set(runs.drop_duplicates("model_version", keep="last")["run_id"])
    repeated = set(runs.loc[runs["model_version"].duplicated(keep=False), "model_version"])
    in_legend: set[str] = set()  # one legend entry per run, which shows or hides all of its curves
    rank = {run_id: i for i, run_id in enumerate(runs["run_id"])}  # the legend lists runs oldest first
    for row, (title, names) in enumerate(panels, start=1):
        dashes = {name: tuple(DASHES)[i % len(DASHES)] for i, name in enumerate(names)}
        value = "%{y:.1%}" if title == "score" else "%{y:.4f}"
        for (run_id, metric), part in frame[frame["metric"].isin(names)].groupby(["run_id", "metric"], sort=False):
            version = part["model_version"].iloc[0]
            label = f"{version} ({run_id})" if version in repeated else version
            fig.add_trace(
                curve(
                    x=part["step"],
                    y=part["value"],
                    name=label,
                    legendgroup=run_id,
                    showlegend=run_id not in in_legend,
                    legendrank=rank[run_id],
                    mode="lines",
                    line={"color": palette[version], "dash": dashes[metric], "width": 1.5},
                    # An earlier run of a version that was trained again: kept for comparison, drawn fainter.
                    opacity=1.0 if run_id in latest else 0.45,
                    hovertemplate=f"{label} · {metric}<br>step %{{x:,}}: {value}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            in_legend.add(run_id)
        key = "   ".join(f"{DASHES[dash]} {name}" for name, dash in dashes.items())
        fig.update_yaxes(title_text=title, tickformat=".0%" if title == "score" else None, row=row, col=1)
        fig.add_annotation(
            text=key, showarrow=False, xref="x domain", yref="y domain", x=1, y=1, xanchor="right", yanchor="bottom",
            font={"size": 10, "color": "#6c757d"}, row=row, col=1,
        )  # fmt: skip
    fig.update_xaxes(title_text="step", row=len(panels), col=1)
    return fig


register(
    ChartSpec(
        id="sentiment.training_curves",
        title="Training curves",
        page="/sentiment",
        params=(*WINDOW, MODEL_VERSION, METRIC),
        data=curves_data,
        figure=curves_figure,
        tables=("training_metrics", "training_runs"),
        description="Loss and validation metrics per step of each training run, by model version; every run,"
        " whatever the window.",
        height=420,
    )
)
