"""Overview charts: headline numbers, prediction volume, label mix and accuracy (its alerts: charts/alerts.py)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..db import Database
from ..ops import serving
from ..sentiment.metrics import accuracy
from ..thresholds import configured
from .figures import DRIFT_COLORS, LABEL_COLORS, base_figure, color_map, curve, empty_figure, time_figure
from .registry import BUCKET, FILTERS, ChartSpec, from_query, register

# metric, title, number format, which direction is good (None: neither)
KPIS = (
    ("predictions", "Predictions", ",.0f", None),
    ("error_rate", "Server error rate", ".2%", "down"),
    ("p95_latency_ms", "p95 latency (ms)", ",.0f", "down"),
    ("cache_hit_rate", "Feature cache hits", ".1%", "up"),
)
GOOD, BAD, NEUTRAL = DRIFT_COLORS["ok"], DRIFT_COLORS["critical"], "#6c757d"
# A per-day point stands in the middle of its day on a time axis.
DAILY = {"xperiod": 86_400_000, "xperiodalignment": "middle"}


def kpi_data(db: Database, params: dict) -> pd.DataFrame:
    """Collect each serving KPI for the window and for the window of the same length before it (one scan).

    When the log begins inside the previous window, there is no like-for-like comparison: a
    half-covered window would show a volume "change" of thousands of percent, so none is shown.
    """
    counts = from_query("overview_kpis")(db, params)
    config, period = db.config, ("period",)
    rates = {
        "error_rate": serving.error_rate(counts, period, configured(config, "ops.error_rate")),
        "cache_hit_rate": serving.cache_hit_rate(counts, period, configured(config, "ops.cache_hit_rate")),
    }
    kpis = counts.set_index("period").assign(**{k: v.set_index("period")["value"] for k, v in rates.items()})
    first = db.data_from("predictions")
    # first <= start - (end - start), written so that no date before year 1 is ever built
    compared = first is not None and params["start"] - first >= params["end"] - params["start"]
    frame = pd.DataFrame(
        [
            {
                "metric": m,
                "current": _pick(kpis, m, "current"),
                "previous": _pick(kpis, m, "previous") if compared else None,
            }
            for m, *_ in KPIS
        ]
    )
    if first is not None and not compared:
        frame.attrs["notes"] = [f"no change shown: the log begins {first:%Y-%m-%d %H:%M}, inside the window before"]
    return frame


def accuracy_data(db: Database, params: dict) -> pd.DataFrame:
    """Accuracy per prediction day and model version (sentiment/metrics.py) from the confusion counts (the
    Sentiment page's, so both pages share one cached join)."""
    counts = from_query("sentiment_confusion")(db, params)
    days = accuracy(counts, ["day", "model_version"], configured(db.config, "model.accuracy"))
    return days.rename(columns={"n": "with_outcome"})[["day", "model_version", "with_outcome", "correct", "accuracy"]]


def _pick(frame: pd.DataFrame, column: str, row) -> float | None:
    if row not in frame.index or pd.isna(frame.loc[row, column]):
        return None
    return float(frame.loc[row, column])


def kpi_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Draw one number per KPI with its change against the previous window of the same length."""
    fig = base_figure(margin={"l": 8, "r": 8, "t": 36, "b": 8})
    values = frame.set_index("metric")
    for i, (metric, title, fmt, good) in enumerate(KPIS):
        current, previous = values.loc[metric, "current"], values.loc[metric, "previous"]
        domain = {"x": [i / len(KPIS) + 0.01, (i + 1) / len(KPIS) - 0.01], "y": [0, 1]}
        if pd.isna(current):
            fig.add_trace(go.Indicator(mode="number", value=None, title={"text": f"{title}<br>no data"}, domain=domain))
            continue
        up, down = {"up": (GOOD, BAD), "down": (BAD, GOOD), None: (NEUTRAL, NEUTRAL)}[good]
        fig.add_trace(
            go.Indicator(
                mode="number+delta" if not pd.isna(previous) else "number",
                value=current,
                number={"valueformat": fmt, "font": {"size": 34}},
                delta={
                    "reference": None if pd.isna(previous) else previous,
                    # Volume changes read best as a percentage; rates and latencies as absolute changes.
                    "valueformat": ".1%" if metric == "predictions" else fmt,
                    "relative": metric == "predictions",
                    "increasing": {"color": up},
                    "decreasing": {"color": down},
                    "suffix": _verdict(current, previous, good),  # in words too, not by colour alone
                },
                title={"text": title, "font": {"size": 14}},
                domain=domain,
            )
        )
    return fig


def _verdict(current: float, previous, good: str | None) -> str:
    """ " better" or " worse" after a change whose direction is good or bad; nothing for neither or no change."""
    if good is None or pd.isna(previous) or current == previous:
        return ""
    return " better" if (current > previous) == (good == "up") else " worse"


def accuracy_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Accuracy per prediction day, one line per model version, over the outcomes that have arrived (bars)."""
    if frame.empty:
        return empty_figure("No outcomes for the predictions in this window")
    fig = time_figure(
        params,
        yaxis={"title": {"text": "accuracy"}, "tickformat": ".0%", "rangemode": "tozero"},
        yaxis2={"title": {"text": "with outcome"}, "overlaying": "y", "side": "right", "showgrid": False},
    )
    per_day = frame.groupby("day", as_index=False)["with_outcome"].sum()
    fig.add_trace(
        go.Bar(
            x=per_day["day"],
            y=per_day["with_outcome"],
            name="with outcome",
            yaxis="y2",
            marker_color="#e9ecef",
            **DAILY,
        )
    )
    colors = color_map(frame["model_version"])
    for version, part in frame.groupby("model_version", sort=True):
        overall = part["correct"].sum() / part["with_outcome"].sum()
        fig.add_trace(
            curve(
                x=part["day"],
                y=part["accuracy"],
                name=f"{version} ({overall:.1%})",
                mode="lines+markers",
                line={"color": colors[version]},
                customdata=part["with_outcome"],
                hovertemplate=f"{version}<br>%{{x|%Y-%m-%d}}: %{{y:.1%}} of %{{customdata:,}}<extra></extra>",
                **DAILY,
            )
        )
    return fig


def volume_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Stack predictions per bucket by label."""
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = time_figure(params, yaxis_title="predictions per bucket")
    for label, part in frame.groupby("label", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["bucket"],
                y=part["predictions"],
                name=label,
                stackgroup="labels",
                mode="lines",
                line={"width": 0.5, "color": LABEL_COLORS.get(label)},
            )
        )
    return fig


def label_mix_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Show each model version's label shares as one 100% bar, so a shifted mix stands out."""
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = base_figure(barmode="stack", xaxis={"tickformat": ".0%", "range": [0, 1]}, hovermode="closest")
    for label, part in frame.groupby("label", sort=True):
        fig.add_trace(
            go.Bar(
                y=part["model_version"],
                x=part["share"],
                name=label,
                orientation="h",
                marker_color=LABEL_COLORS.get(label),
                text=part["share"].map("{:.0%}".format),
                customdata=part["predictions"],
                hovertemplate="%{y}: %{x:.1%} (%{customdata:,} predictions)",
            )
        )
    fig.update_yaxes(autorange="reversed")
    return fig


register(
    ChartSpec(
        id="overview.kpis",
        title="Key numbers",
        page="/",
        params=FILTERS,
        data=kpi_data,
        figure=kpi_figure,
        tables=("predictions",),
        description="This window against the window of the same length before it.",
        height=170,
    )
)
register(
    ChartSpec(
        id="overview.accuracy",
        title="Accuracy by prediction day",
        page="/",
        params=FILTERS,
        data=accuracy_data,
        figure=accuracy_figure,
        tables=("predictions", "outcomes"),
        markers="models",
        description="Predictions whose outcome has arrived, joined on request_id; the rest are not counted yet.",
        time_axis="day",
    )
)
register(
    ChartSpec(
        id="overview.volume",
        title="Prediction volume by label",
        page="/",
        params=FILTERS + (BUCKET,),
        data=from_query("overview_volume"),
        figure=volume_figure,
        tables=("predictions",),
        markers="models",
        time_axis="bucket",
    )
)
register(
    ChartSpec(
        id="overview.label_mix",
        title="Label mix by model version",
        page="/",
        params=FILTERS,
        data=from_query("overview_label_mix"),
        figure=label_mix_figure,
        tables=("predictions",),
    )
)
