"""Drift charts: the per-feature table, one feature's distribution against the baseline, prediction drift."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..config import Config
from ..db import Database
from ..drift.engine import (
    BASELINES,
    MIN_BUCKET_VALUES,
    DriftRule,
    FeatureDrift,
    Window,
    compare,
    drift_over_time,
    feature_kinds,
    prediction_drift,
)
from ..errors import BadParameter
from ..timerange import BUCKETS
from .figures import (
    BLUE,
    CRITICAL_HALF,
    DRIFT_COLORS,
    DRIFT_TINTS,
    LABEL_COLORS,
    STATUS_MARKS,
    base_figure,
    empty_figure,
    table_figure,
)
from .registry import FILTERS, ChartSpec, Param, check_known, get_chart, parse_params, register

REFERENCE = Param(
    "reference",
    "choice",
    "reference",
    choices=BASELINES,
    help="baseline: the reference table, or the previous window of the same length",
)
FEATURE = Param("feature", "text", None, help="input feature to show; none = the most drifted one")
SORTS = {  # table order: column and direction; severity is worst first, then by PSI
    "severity": (["severity", "psi"], [True, False]),
    "psi": (["psi"], [False]),
    "feature": (["feature"], [True]),
    "kind": (["kind", "severity", "psi"], [True, True, False]),
}
SORT = Param("sort", "choice", "severity", choices=tuple(SORTS), help="table order: " + ", ".join(SORTS))
MAX_BARS = 25
SEVERITY = {"critical": 0, "warning": 1, "ok": 2, "no data": 3, "skipped": 4}
TABLES = ("predictions", "reference")


def window(params: dict) -> Window:
    return Window(params["start"], params["end"], params["reference"], tuple(params["symbol"]), params["model_version"])


def results_frame(results: list[FeatureDrift], sort: str = "severity") -> pd.DataFrame:
    """One row per feature; by default worst first: critical before warning before ok, then by PSI."""
    frame = pd.DataFrame([r.summary() for r in results])
    if frame.empty:
        return frame
    frame["severity"] = frame["status"].map(SEVERITY)
    columns, ascending = SORTS[sort]
    frame = frame.sort_values(columns, ascending=ascending, na_position="last", kind="stable")
    return frame.drop(columns="severity").reset_index(drop=True)


def features_data(db: Database, params: dict) -> pd.DataFrame:
    frame = results_frame(compare(db, window(params)), params["sort"])
    if not frame.empty:
        counted = frame[~frame["high_cardinality"].astype(bool)]  # as the share_of_features_drifted alert counts
        drifted = counted["status"].isin(["warning", "critical"]).sum()
        tested = counted["status"].isin(["ok", "warning", "critical"]).sum()
        baseline = "reference" if params["reference"] == "reference" else "previous window"
        frame.attrs["notes"] = [
            f"{drifted} of {tested} features drifted ({drifted / max(tested, 1):.0%}; text features with"
            f" {DriftRule.high_cardinality}+ values are judged by their growth in distinct values instead)",
            f"categorical features: the {baseline}'s top {db.config.drift_top_k} categories plus one 'other' bin",
        ]
    return frame


def _fmt(value, spec: str) -> str:
    return "" if value is None or pd.isna(value) else format(value, spec)


def _fmt_p(value) -> str:
    """A p-value; one that underflows double precision is shown as such, not as a flat 0."""
    return "<1e-300" if value == 0 else _fmt(value, ".2g")


def features_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No input features in predictions")
    if not frame["n_current"].any():
        return empty_figure("No predictions in this window")
    shown = pd.DataFrame(
        {
            "feature": frame["feature"],
            "kind": frame["kind"],
            "status": frame["status"],
            "rule": frame["rule"],
            "psi": frame["psi"].map(lambda v: _fmt(v, ".4f")),
            "test": [
                f"KS D={_fmt(r.ks_statistic, '.4f')} p={_fmt_p(r.ks_pvalue)}"
                if r.kind == "numeric" and pd.notna(r.ks_statistic)
                else f"χ²={_fmt(r.chi2_statistic, ',.1f')} p={_fmt_p(r.chi2_pvalue)}"
                if pd.notna(r.chi2_statistic)
                else ""
                for r in frame.itertuples()
            ],
            "distance": [
                f"W={_fmt(r.wasserstein, '.4g')}"
                if pd.notna(r.wasserstein)
                else f"JS={_fmt(r.js_distance, '.4f')}"
                if pd.notna(r.js_distance)
                else ""
                for r in frame.itertuples()
            ],
            "n": [f"{r.n_current:,} / {r.n_reference:,}" for r in frame.itertuples()],
        }
    )
    headers = {
        "feature": "Feature",
        "kind": "Kind",
        "status": "Status",
        "rule": "Decided by",
        "psi": "PSI",
        "test": "Test",
        "distance": "Distance",
        "n": "n window / baseline",
    }
    # The grid sorts Test by its p-value, Distance by its value and n by the window's count.
    ks = (frame["kind"] == "numeric") & frame["ks_statistic"].notna()
    raw = {
        "psi": frame["psi"],
        "test": frame["ks_pvalue"].where(ks, frame["chi2_pvalue"]),
        "distance": frame["wasserstein"].fillna(frame["js_distance"]),
        "n": frame["n_current"],
    }
    return table_figure(shown, headers, "No input features", row_colors=frame["status"].map(DRIFT_TINTS), raw=raw)


def feature_names(db: Database) -> list[str]:
    return list(feature_kinds(db.columns("predictions")))


def distribution_data(db: Database, params: dict) -> pd.DataFrame:
    """The bins behind one feature's PSI: baseline and window shares and each bin's contribution.

    Picked from the whole comparison, which the feature table memoized: one scan serves the page.
    """
    results = {r.feature: r for r in compare(db, window(params))}
    feature = params["feature"]
    if feature is None:
        ranked = results_frame(list(results.values()))
        feature = ranked["feature"].iloc[0] if not ranked.empty else None
    elif feature not in results:
        raise BadParameter("feature", f"is not an input feature of predictions (features: {', '.join(results)})")
    if feature is None:
        return pd.DataFrame(columns=["bin", "reference_share", "current_share", "psi_contribution"])
    result = results[feature]
    frame = pd.DataFrame(result.bins, columns=["bin", "reference_share", "current_share", "psi_contribution"])
    # Without its bins: pandas deep-copies attrs on every operation, and the bins are the frame itself.
    frame.attrs["feature"] = replace(result, bins=[])
    frame.attrs["notes"] = [f"{feature}: {result.status}, {result.rule}"]
    return frame


def distribution_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    result: FeatureDrift | None = frame.attrs.get("feature")
    if frame.empty or result is None:
        return empty_figure("No values of this feature in this window")
    baseline = "reference" if params["reference"] == "reference" else "previous window"
    shown = frame
    if len(frame) > MAX_BARS:  # many categories: the bins that move PSI most (the export keeps them all)
        shown = frame.loc[frame["psi_contribution"].abs().nlargest(MAX_BARS).index].sort_index()
    fig = base_figure(
        barmode="group",
        hovermode="x unified",
        yaxis={"title": {"text": "share"}, "tickformat": ".1%"},
        yaxis2={"title": {"text": "PSI contribution"}, "overlaying": "y", "side": "right", "showgrid": False},
    )
    fig.add_trace(go.Bar(x=shown["bin"], y=shown["reference_share"], name=baseline, marker_color="#9aa0a6"))
    fig.add_trace(
        go.Bar(
            x=shown["bin"],
            y=shown["current_share"],
            name=f"{result.feature} in this window (PSI {result.psi:.3f}, {result.status})",
            marker_color=DRIFT_COLORS[result.status],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=shown["bin"],
            y=shown["psi_contribution"],
            name="PSI contribution",
            yaxis="y2",
            mode="markers+lines" if result.kind == "numeric" else "markers",
            line={"color": "#212529", "dash": "dot"},
        )
    )
    axis = "bin (reference deciles)" if result.kind == "numeric" else "category"
    if len(shown) < len(frame):
        axis += f" (the {MAX_BARS} that move PSI most of {len(frame)})"
    fig.update_xaxes(title_text=axis, type="category")
    return fig


def prediction_data(db: Database, params: dict) -> pd.DataFrame:
    """The label mix against the baseline (KL decides), with the sentiment score's tests as a note."""
    labels, score = prediction_drift(db, window(params))
    frame = pd.DataFrame(labels.bins, columns=["bin", "reference_share", "current_share", "psi_contribution"])
    frame = frame.rename(columns={"bin": "label"})
    frame.attrs["labels"] = labels
    notes = [f"label mix: {labels.status}, {labels.rule}" if labels.rule else "label mix: no data"]
    if score.psi is not None:
        notes.append(
            f"sentiment_score: {score.status}, {score.rule}; KS D={score.ks_statistic:.4f}, W={score.wasserstein:.4g}"
        )
    frame.attrs["notes"] = notes
    return frame


def prediction_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    labels: FeatureDrift | None = frame.attrs.get("labels")
    if frame.empty or labels is None:
        return empty_figure("No predictions in this window")
    baseline = "reference" if params["reference"] == "reference" else "previous window"
    fig = base_figure(barmode="group", xaxis={"tickformat": ".0%"}, hovermode="closest")
    fig.add_trace(
        go.Bar(y=frame["label"], x=frame["reference_share"], name=baseline, orientation="h", marker_color="#ced4da")
    )
    fig.add_trace(
        go.Bar(
            y=frame["label"],
            x=frame["current_share"],
            name=f"this window (KL {labels.kl_divergence:.3f}, {labels.status})",
            orientation="h",
            marker_color=[LABEL_COLORS.get(label, BLUE) for label in frame["label"]],
        )
    )
    return fig


HEATMAP_BUCKET = Param("bucket", "bucket", "1d", help="time bucket of the heatmap: one of " + ", ".join(BUCKETS))


def psi_scale(warning: float, critical: float) -> tuple[float, list]:
    """The heatmap's top and colour scale: green below the warning threshold, amber to critical, red beyond (to
    twice critical), at the thresholds the feature table and the drift alert decide with. The cells past a
    threshold carry its sign as well (heatmap_figure)."""
    top = 2 * critical
    edge = warning / top
    return top, [
        (0.0, DRIFT_TINTS["ok"]),
        (edge, DRIFT_TINTS["ok"]),
        (edge, DRIFT_TINTS["warning"]),
        (0.5, DRIFT_TINTS["warning"]),
        (0.5, CRITICAL_HALF),
        (1.0, DRIFT_COLORS["critical"]),
    ]


def heatmap_data(db: Database, params: dict) -> pd.DataFrame:
    frame = drift_over_time(db, window(params), params["bucket"]).copy(deep=False)  # its attrs, not the memoized one's
    frame.attrs["psi_thresholds"] = (db.config.drift_psi_warning, db.config.drift_psi_critical)
    return frame


def heatmap_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Feature x time bucket, coloured by PSI against the chosen baseline; thin buckets stay blank."""
    column = "psi_reference" if params["reference"] == "reference" else "psi_previous"
    if frame.empty or frame[column].isna().all():
        return empty_figure("No buckets with enough predictions in this window")
    z = frame.pivot(index="feature", columns="bucket", values=column)
    n = frame.pivot(index="feature", columns="bucket", values="n").reindex_like(z)
    order = z.max(axis=1).sort_values(ascending=True).index  # most drifted on top
    z, n = z.loc[order], n.loc[order]
    warning, critical = frame.attrs.get("psi_thresholds", (Config.drift_psi_warning, Config.drift_psi_critical))
    top, scale = psi_scale(warning, critical)
    fig = base_figure(margin={"l": 120, "r": 8, "t": 8, "b": 40}, hovermode="closest")
    fig.add_trace(
        go.Heatmap(
            x=z.columns,
            y=z.index,
            z=z.to_numpy(dtype=float),
            customdata=n.to_numpy(),
            text=np.where(z >= critical, STATUS_MARKS["critical"], np.where(z >= warning, STATUS_MARKS["warning"], "")),
            texttemplate="%{text}",
            zmin=0,
            zmax=top,
            colorscale=scale,
            colorbar={
                "title": {"text": "PSI"},
                "tickvals": [0, warning, critical, top],
                "ticktext": ["0", f"{warning:g}", f"{critical:g}", f"≥{top:g}"],
            },
            hovertemplate="%{y} · %{x}<br>PSI %{z:.3f} %{text} over %{customdata:,} values<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    return fig


register(
    ChartSpec(
        id="drift.features",
        title="Feature drift",
        page="/drift",
        params=FILTERS + (REFERENCE, SORT),
        data=features_data,
        figure=features_figure,
        table=True,
        tables=TABLES,
        description="PSI decides (warning from 0.1, critical from 0.25 unless DASHAPP_DRIFT_* say otherwise);"
        " KS and χ² p-values are evidence only: on millions of rows every difference is significant.",
        height=420,
    )
)
register(
    ChartSpec(
        id="drift.distribution",
        title="Distribution against the baseline",
        page="/drift",
        params=FILTERS + (REFERENCE, FEATURE),
        data=distribution_data,
        figure=distribution_figure,
        tables=TABLES,
        description="Shares per PSI bin (reference deciles, or categories) and each bin's PSI contribution.",
        height=380,
    )
)
register(
    ChartSpec(
        id="drift.heatmap",
        title="Drift over time",
        page="/drift",
        params=FILTERS + (REFERENCE, HEATMAP_BUCKET),
        data=heatmap_data,
        figure=heatmap_figure,
        tables=TABLES,
        markers="models",
        description="PSI per feature and bucket on fixed bins (the reference's deciles); against the previous"
        f" window, each bucket is compared with the one before. Buckets with fewer than {MIN_BUCKET_VALUES} values"
        " are left blank.",
        height=360,
    )
)
register(
    ChartSpec(
        id="drift.prediction",
        title="Prediction drift",
        page="/drift",
        params=FILTERS + (REFERENCE,),
        data=prediction_data,
        figure=prediction_figure,
        tables=TABLES,
        description="The model's label mix against the baseline (KL decides: 0.15 by default) and its score's tests.",
        height=380,
    )
)


def drift_results(db: Database, args: dict) -> list[dict]:
    """Per-feature results for /api/drift and `dashapp drift`, parsed like the drift charts' URL parameters."""
    spec = get_chart("drift.features")
    params, _ = parse_params(spec, args, strict=True)
    check_known(spec, params, db)
    return [r.to_dict() for r in compare(db, window(params))]
