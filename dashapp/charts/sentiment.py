"""Sentiment model charts: is the model still good, and is the canary as good as the stable version?

Accuracy, F1 and calibration sum the confusion counts of queries/sentiment_confusion.sql (cached per
day and outcome partition); behaviour sums queries/sentiment_daily.sql. Figures follow
scikit-learn's definitions (sentiment/metrics.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..db import Database
from ..sentiment.metrics import (
    accuracy,
    calibration,
    classification,
    macro_intervals,
    two_proportions,
    wilson,
)
from ..thresholds import configured
from .figures import (
    DRIFT_TINTS,
    LABEL_COLORS,
    base_figure,
    color_map,
    curve,
    empty_figure,
    stacked_figure,
    table_figure,
)
from .registry import BUCKET, FILTERS, ChartSpec, from_query, register

ALPHA = 0.05  # a difference from the stable version is significant below this p-value


def _window(params: dict) -> dict:
    return {k: params[k] for k in ("start", "end", "symbol", "model_version")}


def _confusion(db: Database, params: dict) -> pd.DataFrame:
    frame = db.run("sentiment_confusion", **_window(params))
    return frame.assign(correct=np.where(frame["label"] == frame["true_label"], frame["n"], 0))


# -- versions side by side ------------------------------------------------------------------------


def versions_data(db: Database, params: dict) -> pd.DataFrame:
    """Per model version: traffic, behaviour and (where outcomes arrived) accuracy against the stable one."""
    daily = db.run("sentiment_daily", **_window(params))
    confusion = _confusion(db, params)
    if daily.empty:
        return pd.DataFrame()
    totals = daily.groupby("model_version")[["n", "score_sum", "confidence_sum"]].sum()
    labels = daily.pivot_table(index="model_version", columns="label", values="n", aggfunc="sum", fill_value=0)
    stable = totals["n"].idxmax()
    scores = {v: classification(part) for v, part in confusion.groupby("model_version")}
    rows = []
    for version, total in totals.iterrows():
        row = {
            "model_version": version,
            "predictions": int(total["n"]),
            "traffic_share": total["n"] / totals["n"].sum(),
            "mean_score": total["score_sum"] / total["n"],
            "mean_confidence": total["confidence_sum"] / total["n"],
            **{f"share_{label}": labels.loc[version, label] / total["n"] for label in labels.columns},
        }
        score = scores.get(version)
        if score and score["n"]:
            low, high = wilson(score["correct"], score["n"])
            row |= {
                "with_outcome": score["n"],
                "accuracy": score["accuracy"],
                "accuracy_low": low,
                "accuracy_high": high,
                "macro_f1": score["macro_f1"],
                "precision": float(np.mean(list(score["precision"].values()))),
                "recall": float(np.mean(list(score["recall"].values()))),
            }
            for name, (low, high) in macro_intervals(score["confusion"]).items():
                row |= {f"{name}_low": low, f"{name}_high": high}
            base = scores.get(stable)
            if version != stable and base and base["n"]:
                test = two_proportions(score["correct"], score["n"], base["correct"], base["n"])
                row |= {
                    "vs_stable": score["accuracy"] - base["accuracy"],
                    "p_value": test[1] if test else None,
                    "significant": bool(test and test[1] < ALPHA),
                }
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["notes"] = [
        f"stable version (most traffic): {stable}; significant: two-proportion z-test, p < {ALPHA};"
        " macro intervals: bootstrap of the confusion counts"
    ]
    frame.attrs["stable"] = stable
    if confusion.empty:
        frame.attrs["notes"].append("no outcomes yet in this window: accuracy waits for them")
    return frame


def _p(value) -> str:
    """A p-value as people read it: tiny ones as a bound, not as 0."""
    return "p n/a" if value is None or pd.isna(value) else "p<0.001" if value < 0.001 else f"p={value:.3f}"


def _pct(value, digits: int = 1) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}%}"


def versions_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions in this window")
    shown = pd.DataFrame({"version": frame["model_version"]})
    shown["traffic"] = [f"{n:,} ({_pct(s)})" for n, s in zip(frame["predictions"], frame["traffic_share"], strict=True)]
    labels = [c for c in frame.columns if c.startswith("share_")]
    shown["labels"] = [" / ".join(_pct(r[c], 0) for c in labels) for _, r in frame.iterrows()]
    shown["score"] = [f"{s:+.3f} · {c:.2f}" for s, c in zip(frame["mean_score"], frame["mean_confidence"], strict=True)]

    def column(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series([None] * len(frame))

    def interval(name: str) -> list[str]:
        values = zip(column(name), column(f"{name}_low"), column(f"{name}_high"), strict=True)
        return ["—" if pd.isna(v) else f"{v:.1%} [{lo:.1%}, {hi:.1%}]" for v, lo, hi in values]

    shown["accuracy"] = interval("accuracy")
    shown["f1"] = [
        f"F1 {f1}<br>P {precision} · R {recall}"
        for f1, precision, recall in zip(interval("macro_f1"), interval("precision"), interval("recall"), strict=True)
    ]
    stable = frame.attrs.get("stable")
    shown["vs"] = [
        "the stable version"
        if version == stable
        else "—"
        if pd.isna(d)
        else f"{d:+.1%} ({_p(p)}{', significant' if s else ''})"
        for version, d, p, s in zip(
            frame["model_version"], column("vs_stable"), column("p_value"), column("significant"), strict=True
        )
    ]
    headers = {
        "version": "Version",
        "traffic": "Predictions (share)",
        "labels": "Labels " + " / ".join(c[6:] for c in labels),
        "score": "Mean score · confidence",
        "accuracy": "Accuracy [95% Wilson]",
        "f1": "Macro F1, precision, recall [95% bootstrap]",
        "vs": "Accuracy vs stable",
    }
    colors = [DRIFT_TINTS["critical"] if s is True else "white" for s in column("significant")]
    raw = {
        "traffic": frame["predictions"],
        "score": frame["mean_score"],
        "accuracy": column("accuracy"),
        "f1": column("macro_f1"),
        "vs": column("vs_stable"),
    }
    return table_figure(
        shown,
        headers,
        "No predictions in this window",
        row_colors=colors,
        widths=[1.2, 1.3, 1.5, 1.3, 1.7, 2.6, 1.8],
        raw=raw,
    )


# -- accuracy over time, confusion, calibration -------------------------------------------------


def accuracy_data(db: Database, params: dict) -> pd.DataFrame:
    """Per prediction day and version: accuracy, macro F1, and the share of predictions with an outcome."""
    confusion = _confusion(db, params)
    columns = ["day", "model_version", "accuracy", "macro_f1", "with_outcome", "coverage"]
    if confusion.empty:
        frame = pd.DataFrame(columns=columns)
        frame.attrs["notes"] = ["no outcomes yet in this window"]
        return frame
    daily = db.run("sentiment_daily", **_window(params)).groupby(["day", "model_version"])["n"].sum()
    threshold = configured(db.config, "model.accuracy")
    frame = accuracy(confusion, ["day", "model_version"], threshold).rename(columns={"n": "with_outcome"})
    frame["coverage"] = (
        frame["with_outcome"] / daily.reindex(pd.MultiIndex.from_frame(frame[["day", "model_version"]])).to_numpy()
    )
    return frame[columns]


def accuracy_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions with outcomes in this window")
    fig = stacked_figure([0.7, 0.3])
    palette = color_map(frame["model_version"].unique())
    for version, part in frame.groupby("model_version"):
        color = palette[version]
        fig.add_trace(
            curve(
                x=part["day"],
                y=part["accuracy"],
                name=f"{version} accuracy",
                mode="lines+markers",
                line={"color": color},
                hovertemplate="%{y:.1%}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            curve(
                x=part["day"],
                y=part["macro_f1"],
                name=f"{version} macro F1",
                mode="lines",
                line={"color": color, "dash": "dot"},
                hovertemplate="%{y:.1%}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=part["day"],
                y=part["coverage"],
                name=f"{version} with outcome",
                marker_color=color,
                showlegend=False,
                hovertemplate="%{y:.0%} with an outcome",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickformat=".0%", title_text="accuracy · F1", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", title_text="with outcome", range=[0, 1], row=2, col=1)
    fig.update_layout(barmode="group")
    return fig


def confusion_data(db: Database, params: dict) -> pd.DataFrame:
    """True label × predicted label counts over the window (all versions in the filter)."""
    confusion = _confusion(db, params)
    if confusion.empty:
        return pd.DataFrame(columns=["true_label", "label", "n"])
    score = classification(confusion)
    frame = score["confusion"].stack().rename("n").reset_index()
    frame.attrs["notes"] = [
        f"{score['n']:,} predictions with an outcome; accuracy {score['accuracy']:.1%},"
        f" macro F1 {score['macro_f1']:.1%}"
    ]
    return frame


def confusion_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions with outcomes in this window")
    table = frame.pivot(index="true_label", columns="label", values="n").fillna(0)
    shares = table.div(table.sum(axis=1).replace(0, np.nan), axis=0)
    text = [
        [f"{n:,.0f}<br>{s:.0%}" if not np.isnan(s) else f"{n:,.0f}" for n, s in zip(nr, sr, strict=True)]
        for nr, sr in zip(table.to_numpy(), shares.to_numpy(), strict=True)
    ]
    fig = base_figure(
        margin={"l": 80, "r": 8, "t": 8, "b": 60},
        hovermode="closest",
        xaxis={"title": {"text": "predicted"}},
        yaxis={"title": {"text": "true"}},
    )
    fig.add_trace(
        go.Heatmap(
            x=list(table.columns),
            y=list(table.index),
            z=shares.to_numpy(),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def calibration_data(db: Database, params: dict) -> pd.DataFrame:
    """Accuracy against confidence decile per version, and each version's expected calibration error."""
    confusion = _confusion(db, params)
    parts, notes = [], []
    for version, part in confusion.groupby("model_version"):
        bins, ece = calibration(part)
        parts.append(bins.assign(model_version=version))
        notes.append(f"{version}: ECE {ece:.3f}")
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["confidence_bin", "n", "confidence", "accuracy", "model_version"])
    )
    frame.attrs["notes"] = notes or ["no outcomes yet in this window"]
    return frame


def calibration_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions with outcomes in this window")
    fig = base_figure(
        xaxis={"title": {"text": "confidence"}, "range": [0, 1], "tickformat": ".0%"},
        yaxis={"title": {"text": "accuracy"}, "range": [0, 1], "tickformat": ".0%"},
        hovermode="closest",
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], name="perfectly calibrated", mode="lines", line={"color": "#adb5bd", "dash": "dash"}
        )
    )
    palette = color_map(frame["model_version"].unique())
    for version, part in frame.groupby("model_version"):
        fig.add_trace(
            go.Scatter(
                x=part["confidence"],
                y=part["accuracy"],
                name=version,
                mode="lines+markers",
                customdata=part["n"],
                line={"color": palette[version]},
                hovertemplate="confidence %{x:.2f}: accuracy %{y:.1%} over %{customdata:,}",
            )
        )
    return fig


# -- behaviour: score bands, confidence, labels; training -----------------------------------------


def bands_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = base_figure(yaxis={"title": {"text": "sentiment score"}, "range": [-1, 1]})
    for low, high, name, alpha in (("p5", "p95", "p5–p95", 0.15), ("p25", "p75", "p25–p75", 0.35)):
        fig.add_trace(
            curve(x=frame["bucket"], y=frame[high], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
        )
        fig.add_trace(
            curve(
                x=frame["bucket"],
                y=frame[low],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=f"rgba(76,120,168,{alpha})",
                name=name,
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        curve(x=frame["bucket"], y=frame["p50"], name="median", line={"color": "#4c78a8"}, hovertemplate="%{y:.3f}")
    )
    return fig


def confidence_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = base_figure(
        barmode="overlay",
        hovermode="closest",
        xaxis={"title": {"text": "confidence"}, "range": [0, 1]},
        yaxis={"title": {"text": "share"}, "tickformat": ".0%"},
    )
    palette = color_map(frame["model_version"].unique())
    for version, part in frame.groupby("model_version"):
        fig.add_trace(
            go.Bar(
                x=part["confidence_bin"] / 20 + 0.025,
                y=part["n"] / part["n"].sum(),
                width=0.05,
                name=version,
                opacity=0.6,
                marker_color=palette[version],
            )
        )
    return fig


def labels_data(db: Database, params: dict) -> pd.DataFrame:
    daily = db.run("sentiment_daily", **_window(params))
    frame = daily.groupby(["day", "label"])["n"].sum().reset_index()
    frame["share"] = frame["n"] / frame.groupby("day")["n"].transform("sum")
    return frame


def labels_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = base_figure(yaxis={"tickformat": ".0%", "range": [0, 1], "title": {"text": "share"}})
    for label, part in frame.groupby("label"):
        fig.add_trace(
            go.Scatter(
                x=part["day"],
                y=part["share"],
                name=label,
                stackgroup="labels",
                mode="lines",
                line={"color": LABEL_COLORS.get(label, "#4c78a8")},
                hovertemplate="%{y:.1%}",
            )
        )
    return fig


def training_data(db: Database, params: dict) -> pd.DataFrame:
    """Each model version's last training run next to its production accuracy and F1 in the window."""
    runs = db.run("sentiment_training")
    latest = runs.sort_values("finished_at").drop_duplicates("model_version", keep="last")
    scores = {v: classification(part) for v, part in _confusion(db, params).groupby("model_version")}
    frame = latest.assign(
        production_accuracy=[scores[v]["accuracy"] if v in scores else None for v in latest["model_version"]],
        production_f1=[scores[v]["macro_f1"] if v in scores else None for v in latest["model_version"]],
    )
    frame.attrs["notes"] = ["training: each version's last run; production: predictions with an outcome in this window"]
    return frame.reset_index(drop=True)


def training_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No training runs logged")
    fig = base_figure(barmode="group", hovermode="x", yaxis={"tickformat": ".0%", "title": {"text": "score"}})
    for column, name, color in (
        ("accuracy", "training accuracy", "#9ecae9"),
        ("f1", "training F1", "#c6dbef"),
        ("production_accuracy", "production accuracy", "#4c78a8"),
        ("production_f1", "production macro F1", "#2b5b84"),
    ):
        fig.add_trace(
            go.Bar(x=frame["model_version"], y=frame[column], name=name, marker_color=color, hovertemplate="%{y:.1%}")
        )
    return fig


PAGE = "/sentiment"
OUTCOMES = ("predictions", "outcomes")
# The model's outputs move when its inputs drift: the drift rules belong on its charts over time.
DRIFT_AREAS = ("drift", "prediction")

register(
    ChartSpec(
        id="sentiment.versions",
        title="Model versions side by side",
        page=PAGE,
        params=FILTERS,
        data=versions_data,
        figure=versions_figure,
        table=True,
        tables=OUTCOMES,
        height=220,
        description="Traffic, behaviour and accuracy per version; the canary against the stable version (most"
        " traffic).",
    )
)
register(
    ChartSpec(
        id="sentiment.accuracy",
        title="Accuracy and macro F1 by prediction day",
        page=PAGE,
        params=FILTERS,
        data=accuracy_data,
        figure=accuracy_figure,
        tables=OUTCOMES,
        markers="models",
        height=380,
        description="From outcomes joined on request_id; below, the share of each day's predictions with an outcome"
        " yet.",
        time_axis="day",
        alert_areas=DRIFT_AREAS,
    )
)
register(
    ChartSpec(
        id="sentiment.confusion",
        title="Confusion matrix",
        page=PAGE,
        params=FILTERS,
        data=confusion_data,
        figure=confusion_figure,
        tables=OUTCOMES,
        height=340,
        description="Counts and shares of each true label; filter one model version to see its own.",
    )
)
register(
    ChartSpec(
        id="sentiment.calibration",
        title="Calibration",
        page=PAGE,
        params=FILTERS,
        data=calibration_data,
        figure=calibration_figure,
        tables=OUTCOMES,
        height=340,
        description="Accuracy per confidence decile against the diagonal; ECE in the footer.",
    )
)
register(
    ChartSpec(
        id="sentiment.score_bands",
        title="Score distribution over time",
        page=PAGE,
        params=(*FILTERS, BUCKET),
        data=from_query("sentiment_score_bands"),
        figure=bands_figure,
        tables=("predictions",),
        markers="models",
        height=320,
        description="Exact p5, p25, median, p75 and p95 of the sentiment score per bucket.",
        time_axis="bucket",
        alert_areas=DRIFT_AREAS,
    )
)
register(
    ChartSpec(
        id="sentiment.confidence",
        title="Confidence distribution",
        page=PAGE,
        params=FILTERS,
        data=from_query("sentiment_confidence"),
        figure=confidence_figure,
        tables=("predictions",),
        height=300,
        description="Share of each version's predictions per confidence bin of 0.05.",
    )
)
register(
    ChartSpec(
        id="sentiment.labels",
        title="Label share over time",
        page=PAGE,
        params=FILTERS,
        data=labels_data,
        figure=labels_figure,
        tables=("predictions",),
        markers="models",
        height=300,
        description="Daily share of each predicted label.",
        time_axis="day",
        alert_areas=DRIFT_AREAS,
    )
)
register(
    ChartSpec(
        id="sentiment.training",
        title="Training against production",
        page=PAGE,
        params=FILTERS,
        data=training_data,
        figure=training_figure,
        tables=(*OUTCOMES, "training_runs"),
        height=300,
        description="Each version's last training run and its accuracy in production.",
    )
)
