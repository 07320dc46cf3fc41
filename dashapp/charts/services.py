"""Service charts for Operations: SLOs and their error budgets, and the services around the model.

The SLO numbers come from dashapp/slo.py; the service panels read the optional service_metrics table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import slo
from ..db import Database
from .figures import (
    DRIFT_COLORS,
    DRIFT_TINTS,
    color_map,
    curve,
    empty_figure,
    marked,
    stacked_figure,
    table_figure,
    time_figure,
)
from .registry import BUCKET, WINDOW, ChartSpec, from_query, register

NO_SAMPLES = "No service samples in this window"
SERVICES, SLO_TABLES = ("service_metrics",), ("service_metrics", "predictions", "outcomes")
SLO_NAMES = {
    "availability": "Availability",
    "latency": "Latency",
    "cache_hit_rate": "Cache hit rate",
    "accuracy": "Accuracy",
}
AT_RISK = 0.25  # an SLO with less of its budget left than this is tinted as a warning


# -- SLOs ------------------------------------------------------------------------------------------


def slo_status(frame: pd.DataFrame) -> pd.Series:
    """critical: budget spent; warning: less than a quarter left or a fast burn now; ok otherwise."""
    burning = frame["burn_1h"].fillna(0) >= slo.FAST_BURN
    return pd.Series(
        np.select(
            [frame["budget_left"] <= 0, (frame["budget_left"] < AT_RISK) | burning], ["critical", "warning"], "ok"
        ),
        index=frame.index,
    )


def _percent(value: float, digits: int = 2) -> str:
    return "—" if pd.isna(value) else f"{value:.{digits}%}"


def _burn(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:,.2f}×"


def slo_table_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """One row per objective and service: its promise, value now and over the window, budget left and burn rates."""
    if frame.empty:
        return empty_figure("No SLO events in this window (the SLO window before its end)")
    status = slo_status(frame)
    now = [
        f"{_percent(row.now)} · {_window_text(row.now_window)}"
        + (f" (p95 {row.p95_ms:,.0f} ms)" if pd.notna(row.p95_ms) else "")
        for row in frame.itertuples()
    ]
    shown = frame.assign(
        name=frame["slo"].map(SLO_NAMES) + " · " + frame["service"],
        now_text=now,
        sli_text=frame["sli"].map(_percent),
        budget_text=[
            _percent(r.budget_left, 1) + (f" · partial window: {r.data_days:.1f} d of data" if r.partial else "")
            for r in frame.itertuples()
        ],
        burns=[" / ".join(_burn(getattr(r, c)) for c in ("burn_1h", "burn_6h", "burn_3d")) for r in frame.itertuples()],
        status=status,
    )
    headers = {
        "name": "SLO",
        "promise": "Objective",
        "now_text": "Now",
        "sli_text": "SLO window",
        "budget_text": "Budget left",
        "burns": "Burn 1 h / 6 h / 3 d",
        "status": "Status",
    }
    tints = status.map(DRIFT_TINTS)
    widths = [1.6, 2.4, 1.6, 0.9, 1.6 if frame["partial"].any() else 0.9, 1.6, 0.7]
    raw = {"now_text": frame["now"], "sli_text": frame["sli"], "budget_text": frame["budget_left"]}
    raw["burns"] = frame["burn_1h"]
    return table_figure(shown, headers, "No SLO events", row_colors=tints, widths=widths, raw=raw)


def _window_text(window) -> str:
    hours = pd.Timedelta(window).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 24 else f"{hours / 24:.0f} d"


def budget_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Each objective's error budget left over the rolling SLO window, as it stood at each time."""
    if frame.empty:
        return empty_figure("No SLO events in this window")
    names = frame["slo"].map(SLO_NAMES) + " · " + frame["service"]
    colors = color_map(names)
    fig = time_figure(params, yaxis={"title": "error budget left", "tickformat": ".0%"})
    fig.add_hline(y=0, line={"color": DRIFT_COLORS["critical"], "width": 1, "dash": "dot"})
    _mark_partial(fig, frame, params)
    for name, part in frame.assign(name=names).groupby("name", sort=True):
        fig.add_trace(
            curve(
                x=part["bucket"],
                y=part["budget_left"],
                mode="lines",
                name=name,
                line={"color": colors[name], "width": 1.5, "shape": "hv"},
                hovertemplate="%{y:.1%}",
            )
        )
    return fig


def _mark_partial(fig: go.Figure, frame: pd.DataFrame, params: dict) -> None:
    """Shade the time whose SLO window reaches back before the data begins: a budget over fewer days of events.

    One shade per first day of data (service_metrics and predictions may begin apart), labelled below the lines.
    """
    partial = frame[frame["partial"].astype(bool)]
    starts = pd.to_datetime(partial["data_from"]).dt.floor("min")  # as the label shows them
    for number, (first, part) in enumerate(partial.groupby(starts, sort=True)):
        names = ", ".join(sorted(set(part["slo"].map(SLO_NAMES))))
        fig.add_vrect(
            x0=part["bucket"].min(),
            x1=min(part["bucket"].max() + pd.Timedelta(seconds=params["bucket"]), pd.Timestamp(params["end"])),
            fillcolor=DRIFT_TINTS["no data"],
            opacity=0.6,
            layer="below",
            line_width=0,
            annotation_text=f"partial window: data from {first:%b %d %H:%M} ({names})",
            annotation_position="bottom left" if number == 0 else "bottom right",
            annotation_font_size=11,
        )


def budget_data(db: Database, params: dict) -> pd.DataFrame:
    return slo.budget_over_time(db, params["start"], params["end"], params["bucket"])


# -- services --------------------------------------------------------------------------------------


def uptime_data(db: Database, params: dict) -> pd.DataFrame:
    """The up/down runs of each instance, with the instance's availability over the window (share of samples up)."""
    runs = db.run("service_states", start=params["start"], end=params["end"])
    if runs.empty:
        return runs.assign(availability=pd.Series(dtype=float))
    up = runs.assign(up_samples=runs["samples"] * runs["up"]).groupby("instance")[["up_samples", "samples"]].sum()
    return runs.assign(availability=runs["instance"].map(up["up_samples"] / up["samples"]))


def uptime_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """A lane per instance: green while its health checks passed, red while they failed, blank without samples."""
    if frame.empty:
        return empty_figure(NO_SAMPLES)
    lanes = frame["service"] + " / " + frame["instance"] + " · " + frame["availability"].map("{:.3%}".format)
    fig = time_figure(params, hovermode="closest", barmode="overlay", showlegend=False, bargap=0.35)
    for up, name in ((1, "ok"), (0, "critical")):
        part = frame[frame["up"] == up]
        lane = lanes[frame["up"] == up]
        duration = pd.to_datetime(part["run_end"]) - pd.to_datetime(part["run_start"])
        fig.add_trace(
            go.Bar(
                y=lane,
                x=duration.dt.total_seconds() * 1000,  # a date axis counts milliseconds
                base=part["run_start"],
                orientation="h",
                name="up" if up else "down",
                marker={"color": DRIFT_COLORS[name]},
                customdata=np.stack([part["run_end"].astype(str), (duration.dt.total_seconds() / 60).round(1)], -1),
                hovertemplate=("up" if up else "DOWN")
                + " %{base} → %{customdata[0]} (%{customdata[1]} min)<extra></extra>",
            )
        )
    # A 25-minute outage is a pixel wide on a 30-day axis: mark each down run so it shows at any zoom.
    down = frame[frame["up"] == 0]
    fig.add_trace(
        go.Scatter(
            x=down["run_start"],
            y=lanes[frame["up"] == 0],
            mode="markers",
            name="down",
            marker={"color": DRIFT_COLORS["critical"], "symbol": "triangle-down", "size": 11},
            hoverinfo="skip",
        )
    )
    fig.update_yaxes(autorange="reversed", categoryorder="category ascending", tickfont={"size": 11})
    fig.update_xaxes(type="date")
    return fig


RESOURCES = (("cpu_pct", "CPU %"), ("memory_pct", "memory %"), ("disk_pct", "disk %"))


def resources_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """CPU, memory and disk per instance, one row each on a shared time axis (the bucket's mean; disk its max)."""
    if frame.empty:
        return empty_figure(NO_SAMPLES)
    colors = color_map(frame["instance"])
    fig = stacked_figure([1, 1, 1], hovermode="x unified")
    for row, (column, title) in enumerate(RESOURCES, start=1):
        for instance, part in frame.groupby("instance", sort=True):
            fig.add_trace(
                curve(
                    x=part["bucket"],
                    y=part[column],
                    mode="lines",
                    name=instance,
                    legendgroup=instance,
                    showlegend=row == 1,
                    line={"color": colors[instance], "width": 1.2},
                    hovertemplate=f"{title} %{{y:.1f}}",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(title_text=title, range=[0, 100], row=row, col=1)
    fig.update_xaxes(range=[params["start"], params["end"]])
    return fig


def health_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Per dependency: instances up now, availability, failed health checks and their round trip."""
    if frame.empty:
        return empty_figure(NO_SAMPLES)
    down_now = frame["instances_up"] < frame["instances"]
    shown = frame.assign(
        up_now=[
            marked(f"{up:.0f} of {n:.0f}", "critical" if up < n else "")
            for up, n in zip(frame["instances_up"], frame["instances"], strict=True)
        ],
        availability=(1 - frame["down_samples"] / frame["samples"]).map("{:.3%}".format),
        failed=[marked(f"{n:,.0f}", "warning" if n > 0 else "") for n in frame["down_samples"]],
        last_failed=pd.to_datetime(frame["last_down"]).dt.strftime("%Y-%m-%d %H:%M").fillna("—"),
        round_trip=frame["probe_p50_ms"].map("{:,.1f}".format) + " / " + frame["probe_p95_ms"].map("{:,.1f}".format),
        last_seen=pd.to_datetime(frame["last_seen"]).dt.strftime("%Y-%m-%d %H:%M"),
    )
    headers = {
        "service": "Service",
        "up_now": "Up now",
        "availability": "Availability",
        "failed": "Failed checks",
        "last_failed": "Last failed",
        "round_trip": "Check p50 / p95 (ms)",
        "last_seen": "Last sample",
    }
    tints = np.where(
        down_now, DRIFT_TINTS["critical"], np.where(frame["down_samples"] > 0, DRIFT_TINTS["warning"], "white")
    )
    raw = {
        "up_now": frame["instances_up"],
        "availability": 1 - frame["down_samples"] / frame["samples"],
        "failed": frame["down_samples"],
        "last_failed": pd.to_datetime(frame["last_down"]),
        "round_trip": frame["probe_p50_ms"],
        "last_seen": pd.to_datetime(frame["last_seen"]),
    }
    widths = [1.7, 0.7, 1, 0.8, 1.4, 1.2, 1.4]
    return table_figure(shown, headers, NO_SAMPLES, row_colors=tints, widths=widths, raw=raw)


def memory_latency_data(db: Database, params: dict) -> pd.DataFrame:
    """The model server's memory per instance and the p95 latency per model version, in one long frame."""
    window = {k: params[k] for k in ("start", "end", "bucket")}
    usage = db.run("service_usage", **window)
    usage = usage[usage["service"] == slo.MODEL_SERVER]
    latency = db.run("ops_latency_quantiles", **window, symbol=[], model_version=None)
    return pd.concat(
        [
            usage.assign(series=usage["instance"], measure="memory %", value=usage["memory_pct"]),
            latency.assign(series=latency["model_version"], measure="p95 latency ms", value=latency["p95_ms"]),
        ],
        ignore_index=True,
    )[["bucket", "series", "measure", "value"]]


def memory_latency_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Memory on the left axis, p95 latency (log) on the right: a leak shows as latency rising with memory."""
    if frame.empty:
        return empty_figure(NO_SAMPLES)
    colors = color_map(frame["series"])
    fig = time_figure(
        params,
        yaxis={"title": "model server memory %", "range": [0, 100]},
        yaxis2={
            "title": "p95 latency (ms)",
            "type": "log",
            "dtick": "D2",
            "tickformat": ",.0f",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    for (measure, series), part in frame.groupby(["measure", "series"], sort=True):
        memory = measure == "memory %"
        fig.add_trace(
            curve(
                x=part["bucket"],
                y=part["value"],
                mode="lines",
                name=f"{series} {'memory' if memory else 'p95'}",
                yaxis="y" if memory else "y2",
                line={"color": colors[series], "width": 1.8 if memory else 1.0, "dash": "solid" if memory else "dot"},
                hovertemplate="%{y:.1f} %" if memory else "%{y:,.0f} ms",
            )
        )
    return fig


register(
    ChartSpec(
        id="ops.slos",
        title="Service-level objectives",
        page="/operations",
        params=WINDOW,
        data=lambda db, params: slo.status_table(db, params["end"]),
        figure=slo_table_figure,
        table=True,
        tables=SLO_TABLES,
        description="As of the window's end: SLI now and over the rolling SLO window, error budget left, burn rates.",
        height=300,
    )
)
register(
    ChartSpec(
        id="ops.error_budget",
        title="Error budget left",
        page="/operations",
        params=WINDOW + (BUCKET,),
        data=budget_data,
        figure=budget_figure,
        tables=SLO_TABLES,
        markers="models",
        description="Over the rolling SLO window ending at each time; below 0 the objective is missed.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.service_uptime",
        title="Service instances up / down",
        page="/operations",
        params=WINDOW,
        data=uptime_data,
        figure=uptime_figure,
        tables=SERVICES,
        markers="models",
        description="Health checks per instance, with availability over the window.",
    )
)
register(
    ChartSpec(
        id="ops.service_resources",
        title="CPU, memory and disk per instance",
        page="/operations",
        params=WINDOW + (BUCKET,),
        data=from_query("service_usage"),
        figure=resources_figure,
        tables=SERVICES,
        markers="models",
        height=480,
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.dependency_health",
        title="Dependencies: health checks",
        page="/operations",
        params=WINDOW,
        data=from_query("service_health"),
        figure=health_figure,
        table=True,
        tables=SERVICES,
        height=240,
    )
)
register(
    ChartSpec(
        id="ops.memory_latency",
        title="Model server memory and latency",
        page="/operations",
        params=WINDOW + (BUCKET,),
        data=memory_latency_data,
        figure=memory_latency_figure,
        tables=("service_metrics", "predictions"),
        markers="models",
        description="Memory per instance, p95 latency per model version.",
        time_axis="bucket",
    )
)
