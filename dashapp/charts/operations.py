"""Operations charts: throughput, latency, errors, feature-cache hits, traffic split and pipelines."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..db import Database
from ..ops import serving
from ..thresholds import configured
from .figures import STATUS_COLORS, color_map, curve, empty_figure, table_figure, time_figure
from .registry import BUCKET, FILTERS, WINDOW, ChartSpec, from_query, register

NO_REQUESTS = "No requests in this window"
requests_data = from_query("ops_requests")
BY_VERSION = ("bucket", "model_version")


def error_rate_frame(rows: pd.DataFrame, threshold=None) -> pd.DataFrame:
    """The error rate per bucket and version (ops/serving.py) from ops_requests.sql's rows."""
    return serving.error_rate(rows, BY_VERSION, threshold)


def error_rate_data(db: Database, params: dict) -> pd.DataFrame:
    return error_rate_frame(requests_data(db, params), configured(db.config, "ops.error_rate"))


def cache_hit_frame(rows: pd.DataFrame, threshold=None) -> pd.DataFrame:
    """The cache hit rate per bucket over all versions (ops/serving.py); `requests` in attrs tells an empty frame
    of a window without requests from one whose requests logged no cache_hit."""
    frame = serving.cache_hit_rate(rows, ("bucket",), threshold)
    frame.attrs["requests"] = int(rows["requests"].sum())
    return frame


def cache_hit_data(db: Database, params: dict) -> pd.DataFrame:
    return cache_hit_frame(requests_data(db, params), configured(db.config, "ops.cache_hit_rate"))


def throughput_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Stack requests per second by outcome (ok, 4xx, 5xx), summed over model versions."""
    if frame.empty:
        return empty_figure(NO_REQUESTS)
    totals = frame.groupby("bucket", as_index=False)[["requests", "server_errors", "client_errors"]].sum()
    per_second = 1.0 / params["bucket"]
    series = {
        "ok": totals["requests"] - totals["server_errors"] - totals["client_errors"],
        "4xx": totals["client_errors"],
        "5xx": totals["server_errors"],
    }
    fig = time_figure(params, yaxis_title="requests / s")
    for name, counts in series.items():
        fig.add_trace(
            go.Scatter(
                x=totals["bucket"],
                y=counts * per_second,
                name=name,
                stackgroup="status",
                mode="lines",
                line={"width": 0.5, "color": STATUS_COLORS[name]},
                hovertemplate="%{y:.2f}/s",
            )
        )
    return fig


def latency_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Plot p50/p95/p99 latency per model version on a log axis, so spikes and baselines both read."""
    if frame.empty:
        return empty_figure(NO_REQUESTS)
    colors = color_map(frame["model_version"])
    fig = time_figure(params, yaxis={"title": "latency (ms)", "type": "log", "dtick": "D2", "tickformat": ",.0f"})
    for version, part in frame.groupby("model_version", sort=True):
        for column, dash in (("p50_ms", "dot"), ("p95_ms", "solid"), ("p99_ms", "dash")):
            fig.add_trace(
                curve(
                    x=part["bucket"],
                    y=part[column],
                    mode="lines",
                    name=f"{version} {column[:3]}",
                    legendgroup=version,
                    line={"color": colors[version], "dash": dash, "width": 1.5},
                    hovertemplate="%{y:,.0f} ms",
                )
            )
    return fig


def error_rate_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Plot the share of 5xx responses per model version (error_rate_frame)."""
    if frame.empty:
        return empty_figure(NO_REQUESTS)
    colors = color_map(frame["model_version"])
    fig = time_figure(params, yaxis={"title": "server errors (5xx)", "tickformat": ".1%", "rangemode": "tozero"})
    for version, part in frame.groupby("model_version", sort=True):
        fig.add_trace(
            curve(
                x=part["bucket"],
                y=part["value"],
                mode="lines",
                name=version,
                line={"color": colors[version], "width": 1.5},
                hovertemplate="%{y:.2%}",
            )
        )
    return fig


def cache_hit_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Plot the feature-store cache hit rate over all versions (cache_hit_frame)."""
    if frame.empty:
        return empty_figure("No cache_hit values in this window" if frame.attrs.get("requests") else NO_REQUESTS)
    fig = time_figure(params, yaxis={"title": "cache hit rate", "tickformat": ".0%", "range": [0, 1.02]})
    fig.add_trace(
        curve(
            x=frame["bucket"],
            y=frame["value"],
            mode="lines",
            name="hit rate",
            line={"color": STATUS_COLORS["ok"], "width": 1.5},
            hovertemplate="%{y:.1%}",
        )
    )
    return fig


def traffic_split_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Stack each model version's share of requests to 100%, to follow a canary's rollout."""
    if frame.empty:
        return empty_figure(NO_REQUESTS)
    colors = color_map(frame["model_version"])
    fig = time_figure(params, yaxis={"title": "share of requests", "tickformat": ".0%", "range": [0, 1]})
    for version, part in frame.groupby("model_version", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["bucket"],
                y=part["requests"],
                name=version,
                stackgroup="split",
                groupnorm="fraction",
                mode="lines",
                line={"width": 0.5, "color": colors[version]},
                hovertemplate="%{y:.1%}",
            )
        )
    return fig


def pipeline_runs_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Plot each run's duration per pipeline; failed runs are red crosses with their error on hover."""
    if frame.empty:
        return empty_figure("No pipeline runs in this window")
    colors = color_map(frame["pipeline"])
    fig = time_figure(
        params, yaxis={"title": "duration (s)", "type": "log", "dtick": "D2", "tickformat": ",.0f"}, hovermode="closest"
    )
    for pipeline, part in frame.groupby("pipeline", sort=True):
        ok = part[part["status"] == "success"]
        fig.add_trace(
            go.Scatter(
                x=ok["started_at"],
                y=ok["duration_s"],
                mode="markers",
                name=pipeline,
                marker={"color": colors[pipeline], "size": 5, "opacity": 0.7},
                hovertemplate=pipeline + " %{x}<br>%{y:,.1f} s<extra></extra>",
            )
        )
    failed = frame[frame["status"] == "failed"]
    fig.add_trace(
        go.Scatter(
            x=failed["started_at"],
            y=failed["duration_s"],
            mode="markers",
            name="failed",
            marker={"color": STATUS_COLORS["failed"], "size": 9, "symbol": "x"},
            customdata=failed[["pipeline", "failed_stage", "error"]].fillna("").to_numpy(),
            hovertemplate="%{customdata[0]} failed at %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
        )
    )
    return fig


def pipeline_health_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Summarise each pipeline: runs, failures, durations and the last error."""
    if frame.empty:  # the string columns below cannot be built from empty float columns
        return empty_figure("No pipeline runs in this window")
    shown = frame.assign(
        failure=frame["failed"].astype(str) + " (" + frame["failure_rate"].map("{:.1%}".format) + ")",
        durations=frame["median_duration_s"].map("{:,.1f}".format)
        + " / "
        + frame["p95_duration_s"].map("{:,.1f}".format),
        last_run=frame["last_run"].dt.strftime("%Y-%m-%d %H:%M"),
        last_failure=frame["last_failure"].dt.strftime("%Y-%m-%d %H:%M").fillna("—"),
        last_error=frame["last_error"].fillna(""),
    )
    headers = {
        "pipeline": "Pipeline",
        "runs": "Runs",
        "failure": "Failed",
        "durations": "Median / p95 (s)",
        "last_run": "Last run",
        "last_failure": "Last failure",
        "last_error": "Last error",
    }
    raw = {
        "failure": frame["failure_rate"],
        "durations": frame["median_duration_s"],
        "last_run": frame["last_run"],
        "last_failure": frame["last_failure"],
    }
    return table_figure(shown, headers, "No pipeline runs in this window", raw=raw)


# The serving charts share their parameters; four of them share one cached query (ops_requests).
register(
    ChartSpec(
        id="ops.throughput",
        title="Throughput",
        page="/operations",
        params=(*FILTERS, BUCKET),
        data=requests_data,
        figure=throughput_figure,
        tables=("predictions",),
        markers="models",
        description="Requests per second by outcome.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.latency",
        title="Latency p50 / p95 / p99 by model version",
        page="/operations",
        params=(*FILTERS, BUCKET),
        data=from_query("ops_latency_quantiles"),
        figure=latency_figure,
        tables=("predictions",),
        markers="models",
        description="Exact percentiles, log scale.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.error_rate",
        title="Server error rate by model version",
        page="/operations",
        params=(*FILTERS, BUCKET),
        data=error_rate_data,
        figure=error_rate_figure,
        tables=("predictions",),
        markers="models",
        description="Share of 5xx.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.cache_hit",
        title="Feature-store cache hit rate",
        page="/operations",
        params=(*FILTERS, BUCKET),
        data=cache_hit_data,
        figure=cache_hit_figure,
        tables=("predictions",),
        markers="models",
        description="Lookups served from cache.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.traffic_split",
        title="Traffic split by model version",
        page="/operations",
        params=(*FILTERS, BUCKET),
        data=requests_data,
        figure=traffic_split_figure,
        tables=("predictions",),
        markers="models",
        description="Share per version.",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="ops.pipeline_runs",
        title="Pipeline runs and durations",
        page="/operations",
        params=WINDOW,
        data=from_query("ops_pipeline_runs"),
        figure=pipeline_runs_figure,
        tables=("pipeline_runs",),
        markers="models",
        description="One point per run; red crosses failed.",
        time_axis="started_at",
    )
)
register(
    ChartSpec(
        id="ops.pipeline_health",
        title="Pipeline health",
        page="/operations",
        params=WINDOW,
        data=from_query("ops_pipeline_health"),
        figure=pipeline_health_figure,
        table=True,
        tables=("pipeline_runs",),
        height=260,
    )
)
