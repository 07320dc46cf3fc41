"""Data quality charts: does each table keep the contract, how complete is it, and do the values make sense?"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import row_volume
from ..alerts.metrics import CADENCED, METRICS, TIMED, Span, each_table, missing_by_bucket
from ..check import check_data_dir
from ..contract import LABELS, TABLES
from ..db import Database
from ..drift.engine import feature_kinds
from ..errors import DataUnavailable
from ..storage import StorageUnreachable
from ..timerange import align_up
from .figures import DRIFT_COLORS, DRIFT_TINTS, PALETTE, base_figure, empty_figure, marked, table_figure
from .registry import WINDOW, ChartSpec, register

DAY = 86400  # seconds
REQUEST_IDS = ("predictions", "outcomes")  # the tables keyed by request_id
STATUS_TINTS = {
    "ok": DRIFT_TINTS["ok"],
    "absent": DRIFT_TINTS["no data"],
    "missing": DRIFT_TINTS["warning"],
    "invalid": DRIFT_TINTS["critical"],
}
WARN_BELOW, CRITICAL_BELOW = 0.99, 0.9  # completeness of a column
FRESHNESS_BUCKET = 900  # seconds: the stale-data rule's bucket
FRESHNESS_TINTS = {
    "fresh": DRIFT_TINTS["ok"],
    "late": DRIFT_TINTS["warning"],
    "stale": DRIFT_TINTS["critical"],
    "no rows": DRIFT_TINTS["no data"],
}
VIOLATIONS = {
    "score_out_of_range": "score outside [-1, 1]",
    "confidence_out_of_range": "confidence outside [0, 1]",
    "unknown_label": "unknown label",
    "missing_request_id": "no request_id",
    "duplicate_request_id": "request_id repeated that day",
}


def contract_data(db: Database, params: dict) -> pd.DataFrame:
    """Each contract table against the contract, from its parquet footers (`dashapp check`), plus its extra columns."""
    rows = []
    try:
        reports = check_data_dir(db.config.data_dir)
    except StorageUnreachable as exc:  # no table can be judged: the panel says why, as the others do
        raise DataUnavailable("predictions", str(exc), TABLES["predictions"].expected_columns_text()) from None
    for report in reports:
        extra = []
        if report.status != "missing":
            try:
                contract = {c.name for c in TABLES[report.table].required + TABLES[report.table].optional}
                extra = sorted(set(db.columns(report.table)) - contract - {"dt"})
            except DataUnavailable:
                pass  # unreadable: the report already says why
        rows.append(
            {
                "table": report.table,
                "status": report.status,
                "files": report.files,
                "rows": report.rows,
                "problems": "; ".join(report.problems),
                "extra_columns": ", ".join(extra),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["notes"] = ["whole tables, not the window; extra columns of predictions are the model's input features"]
    return frame


def contract_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    shown = frame.assign(
        rows=[f"{n:,}" for n in frame["rows"]],
        problems=frame["problems"].replace("", "—"),
        extra_columns=frame["extra_columns"].replace("", "—"),
    )
    headers = {
        "table": "Table",
        "status": "Status",
        "files": "Files",
        "rows": "Rows",
        "problems": "Problems",
        "extra_columns": "Columns beyond the contract",
    }
    tints = [STATUS_TINTS[s] for s in frame["status"]]
    widths = [1.2, 0.8, 0.6, 1, 3.5, 3.5]
    return table_figure(shown, headers, "No tables", row_colors=tints, widths=widths, raw={"rows": frame["rows"]})


def freshness_data(db: Database, params: dict) -> pd.DataFrame:
    """Each table with an expected cadence: minutes from its newest row to the window's end, against the cadence.

    The same computation as the data.freshness_minutes alert metric, over the window's last day.
    """
    end = params["end"]
    start = align_up(end - timedelta(days=1), FRESHNESS_BUCKET)
    ages = METRICS["data.freshness_minutes"].compute(db, Span(start, end, FRESHNESS_BUCKET))
    last = ages.sort_values("bucket").groupby("table").tail(1).set_index("table")["value"]
    rows = []
    for name in CADENCED:
        cadence = TABLES[name].cadence / timedelta(minutes=1)
        age = last.get(name)
        status = "no rows" if age is None else "fresh" if age <= cadence else "late" if age <= 3 * cadence else "stale"
        rows.append({"table": name, "minutes": age, "cadence_minutes": cadence, "status": status})
    frame = pd.DataFrame(rows)
    frame.attrs["notes"] = ["late: older than its cadence; stale: older than three cadences"]
    return frame


def freshness_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    shown = frame.assign(
        minutes=[_duration(m) + " ago" if pd.notna(m) and m >= 0 else "—" for m in frame["minutes"]],
        cadence_minutes=[_duration(m) for m in frame["cadence_minutes"]],
    )
    headers = {"table": "Table", "minutes": "Newest row", "cadence_minutes": "Expected every", "status": "Status"}
    tints = [FRESHNESS_TINTS[s] for s in frame["status"]]
    raw = {"minutes": frame["minutes"], "cadence_minutes": frame["cadence_minutes"]}
    return table_figure(shown, headers, "No tables with a cadence", row_colors=tints, raw=raw)


def _duration(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} days"


def completeness_data(db: Database, params: dict) -> pd.DataFrame:
    """Per time-stamped table and column, the share of the window's rows that hold a value: required columns
    first, worst first. The day counts of the missing-values panel (and the missing-rate alert), summed."""
    counts = missing_by_bucket(db, Span(params["start"], params["end"], DAY))
    keys = ["table", "column", "required", "optional"]
    frame = counts.groupby(keys, as_index=False)[["rows", "missing"]].sum()
    absent = frame["optional"].astype(bool) & (frame["missing"] == frame["rows"])  # an optional column this log lacks
    frame = frame[(frame["rows"] > 0) & ~absent].drop(columns="optional")
    frame["completeness"] = 1 - frame["missing"] / frame["rows"]
    frame = frame.sort_values(["required", "completeness", "table", "column"], ascending=[False, True, True, True])
    frame = frame.reset_index(drop=True)
    gaps = (frame["missing"] > 0) & frame["required"]
    notes = counts.attrs["notes"]
    frame.attrs["notes"] = notes + [f"{gaps.sum()} of {frame['required'].sum()} required columns have missing values"]
    return frame


def completeness_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No rows in this window")
    shown = frame.assign(
        column=[c if req else f"{c} (may be empty)" for c, req in zip(frame["column"], frame["required"], strict=True)],
        completeness=[
            marked(f"{c:.2%}", "critical" if c < CRITICAL_BELOW else "warning" if c < WARN_BELOW else "")
            if req
            else f"{c:.2%}"
            for c, req in zip(frame["completeness"], frame["required"], strict=True)
        ],
        missing=[f"{n:,}" for n in frame["missing"]],
        rows=[f"{n:,}" for n in frame["rows"]],
    )
    headers = {"table": "Table", "column": "Column", "completeness": "Complete", "missing": "Missing", "rows": "Rows"}
    # Only the contract's required columns must be filled: an optional error column is empty on success.
    tints = [
        "white"
        if not required
        else DRIFT_TINTS["critical"]
        if c < CRITICAL_BELOW
        else DRIFT_TINTS["warning"]
        if c < WARN_BELOW
        else "white"
        for c, required in zip(frame["completeness"], frame["required"], strict=True)
    ]
    raw = {c: frame[c] for c in ("completeness", "missing", "rows")}
    return table_figure(shown, headers, "No rows in this window", row_colors=tints, raw=raw)


def values_data(db: Database, params: dict) -> pd.DataFrame:
    """Per day, predictions whose values break the contract (the query says how each is counted)."""
    frame = db.run("quality_predictions", start=params["start"], end=params["end"], labels=list(LABELS))
    totals = frame[list(VIOLATIONS)].sum()
    broken = [f"{VIOLATIONS[k]}: {n:,}" for k, n in totals.items() if n]
    frame.attrs["notes"] = broken or ["every prediction in this window keeps the contract's value rules"]
    return frame


def values_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No predictions in this window")
    fig = base_figure(barmode="stack", yaxis={"title": {"text": "predictions"}, "rangemode": "tozero"})
    for column, name in VIOLATIONS.items():
        fig.add_trace(go.Bar(x=frame["day"], y=frame[column], name=name, hovertemplate="%{y:,}"))
    if not frame[list(VIOLATIONS)].to_numpy().any():
        text = f"All {frame['rows'].sum():,} predictions keep the value rules"
        fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return fig


def rows_data(db: Database, params: dict) -> pd.DataFrame:
    """Rows per UTC day of each time-stamped table, against the median of the same weekday in the four weeks
    before (row_volume.relative_rows).

    Tables differ a thousandfold (predictions against pipeline runs), so each is read against its
    own history; the window's first and last days count for the part of the day inside it. A day
    without rows is a shortfall only for tables the contract expects rows from every day (cadence);
    markets close at weekends and backtests are written now and then.
    """
    start, end = pd.Timestamp(params["start"]), pd.Timestamp(params["end"])
    first, history = start.floor("D"), start.floor("D") - row_volume.HISTORY
    days = pd.date_range(history, (end - pd.Timedelta(microseconds=1)).floor("D"), freq="D")
    one_day = pd.Timedelta(days=1)
    inside = (np.minimum(days + one_day, end) - np.maximum(days, start)) / one_day
    covered = np.where(days < first, 1.0, inside)  # the history's days are whole
    parts, notes = [], []
    window = dict(each_table(db, TIMED, "quality_rows", start, end, notes, bucket=DAY))
    earlier = dict(each_table(db, tuple(window), "quality_rows", history, first, [], bucket=DAY))
    for table, counts in window.items():
        counts = pd.concat([earlier[table], counts]) if table in earlier else counts
        rows = counts.set_index("bucket")["rows"].reindex(days, fill_value=0)
        daily = TABLES[table].cadence is not None and TABLES[table].cadence <= one_day
        judged = row_volume.relative_rows(rows / covered, daily)
        shown = judged.index >= first
        parts.append(
            pd.DataFrame(
                {
                    "table": table,
                    "day": days[shown],
                    "rows": rows.to_numpy()[shown],
                    "weekday_median": judged["baseline"].to_numpy()[shown],
                    "relative": judged["relative"].to_numpy()[shown],
                }
            )
        )
    columns = ["table", "day", "rows", "weekday_median", "relative"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame.attrs["notes"] = notes + [
        f"each cell: the day's rows, coloured against the median of the same weekday in the {row_volume.WEEKS} weeks"
        " before (days with rows); blank without one"
    ]
    return frame


def rows_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty or not frame["rows"].any():
        return empty_figure("No rows in this window")
    tables = list(dict.fromkeys(frame["table"]))
    values = ("relative", "rows", "weekday_median")
    grid = {v: frame.pivot(index="table", columns="day", values=v).loc[tables] for v in values}
    fig = base_figure(
        plot_bgcolor=DRIFT_TINTS["no data"],
        margin={"l": 110, "r": 16, "t": 8, "b": 32},
        xaxis=_day_axis(len(grid["rows"].columns)),
        yaxis={"autorange": "reversed"},
        hovermode="closest",
    )
    counts = grid["rows"].to_numpy()
    fig.add_trace(
        go.Heatmap(
            x=grid["rows"].columns,
            y=tables,
            z=grid["relative"].clip(upper=2).to_numpy(),
            zmin=0,
            zmax=2,
            colorscale=[
                [0, DRIFT_COLORS["critical"]],
                [0.25, DRIFT_TINTS["critical"]],
                [0.5, "#f8f9fa"],
                [1, PALETTE[0]],
            ],
            colorbar={
                "title": {"text": "against the same weekday's median", "side": "right"},
                "tickvals": [0, 0.5, 1, 1.5, 2],
                "ticktext": ["no rows", "half", "median", "1.5×", "≥ 2×"],
            },
            customdata=counts,
            hovertext=[[_against(m) for m in row] for row in grid["weekday_median"].to_numpy()],
            text=[[_compact(n) for n in row] for row in counts] if counts.shape[1] <= 45 else None,
            texttemplate="%{text}",
            xgap=1,
            ygap=1,
            hovertemplate="%{y}, %{x|%Y-%m-%d}: %{customdata:,} rows (%{hovertext})<extra></extra>",
        )
    )
    return fig


def _against(weekday_median: float) -> str:
    if pd.isna(weekday_median):
        return "no earlier same weekday with rows"
    return f"the same weekday's median {weekday_median:,.0f}"


def _day_axis(days: int) -> dict:
    """A heatmap's x axis of UTC days: a tick per day while they fit, never hours."""
    return {"tickformat": "%b %d", "dtick": 86_400_000 if days <= 31 else None}


def _compact(n: float) -> str:
    """A count in at most four characters: 2.9k, 312k, 1.2M."""
    if n < 1000:
        return f"{n:.0f}"
    if n < 9950:
        return f"{n / 1000:.1f}k"
    return f"{n / 1000:.0f}k" if n < 999_500 else f"{n / 1e6:.1f}M"


def missing_data(db: Database, params: dict) -> pd.DataFrame:
    """Per UTC day, time-stamped table and column: rows and missing values (quality.missing_rate's counts)."""
    frame = missing_by_bucket(db, Span(params["start"], params["end"], DAY))
    gaps = frame[frame["required"].astype(bool) & (frame["missing"] > 0)]
    found = f"{gaps[['table', 'column']].drop_duplicates().shape[0]} required columns miss values on some day"
    frame.attrs["notes"] = frame.attrs["notes"] + [found if len(gaps) else "no required column misses a value"]
    return frame


def missing_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    """Columns that miss a value on some day (not the contract's optional ones, empty by design) x day."""
    kept = frame[~frame["optional"].astype(bool)]
    gappy = kept.groupby(["table", "column"])["missing"].transform("sum") > 0
    kept = kept[gappy].sort_values(["required", "table", "column"], ascending=[False, True, True], kind="stable")
    if kept.empty:
        return empty_figure("No missing values in this window" if frame["rows"].any() else "No rows in this window")
    kept = kept.assign(
        name=[
            f"{t} · {c}" + ("" if r else " (feature)")
            for t, c, r in zip(kept["table"], kept["column"], kept["required"], strict=True)
        ],
        share=(kept["missing"] / kept["rows"].where(kept["rows"] > 0)).astype(float),
    )
    names = list(dict.fromkeys(kept["name"]))
    share = kept.pivot(index="name", columns="bucket", values="share").loc[names]
    missing = kept.pivot(index="name", columns="bucket", values="missing").loc[names]
    fig = base_figure(
        margin={"l": 200, "r": 16, "t": 8, "b": 32},
        xaxis=_day_axis(len(share.columns)),
        yaxis={"autorange": "reversed"},
        hovermode="closest",
    )
    fig.add_trace(
        go.Heatmap(
            x=share.columns,
            y=names,
            z=share.clip(upper=0.1).to_numpy(),
            zmin=0,
            zmax=0.1,
            # White when complete, amber from 1% (the rule's warning), red from 10% (its critical).
            colorscale=[
                [0, "#ffffff"],
                [0.001, DRIFT_TINTS["warning"]],
                [0.1, DRIFT_COLORS["warning"]],
                [1, DRIFT_COLORS["critical"]],
            ],
            colorbar={"title": {"text": "missing"}, "tickformat": ".0%", "tickvals": [0, 0.01, 0.05, 0.1]},
            customdata=np.dstack([missing.to_numpy(), share.to_numpy()]),
            text=[[f"{s:.1%}" if s > 0 else "" for s in row] for row in share.fillna(0).to_numpy()],
            texttemplate="%{text}",
            xgap=1,
            ygap=1,
            hovertemplate="%{y}, %{x|%Y-%m-%d}: %{customdata[0]:,} missing (%{customdata[1]:.2%})<extra></extra>",
        )
    )
    return fig


def _numeric_columns(db: Database, table: str) -> list[str]:
    """A table's measured quantities: its contract columns of kind number, and predictions' numeric input features."""
    present = db.columns(table)
    contract = (*TABLES[table].required, *TABLES[table].optional)
    names = [c.name for c in contract if c.kind == "number" and c.name in present]
    if table == "predictions":
        names += [name for name, kind in feature_kinds(present).items() if kind == "numeric"]
    return names


def outliers_data(db: Database, params: dict) -> pd.DataFrame:
    """Per numeric column of each time-stamped table over the window: quartiles, IQR fences and values outside."""
    parts, notes = [], []
    for table in TIMED:
        try:
            columns = _numeric_columns(db, table)
            if not columns:
                continue
            found = db.run_on(
                table,
                "quality_outliers",
                time_column=f"^{TABLES[table].time_column}$",
                start=params["start"],
                end=params["end"],
                columns=columns,
            )
        except DataUnavailable as exc:
            notes.append(f"{table}: {exc.reason}")
            continue
        parts.append(found.assign(table=table, column=[columns[i - 1] for i in found["position"]]))
    columns = ["table", "column", "n", "q1", "q3", "low", "high", "below", "above"]
    frame = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    frame = frame[frame["n"] > 0].assign(outside=lambda f: f["below"] + f["above"])
    frame["share"] = frame["outside"] / frame["n"]
    frame = frame.sort_values(["share", "table", "column"], ascending=[False, True, True]).reset_index(drop=True)
    frame.attrs["notes"] = notes + ["outside: below Q1 − 1.5 IQR or above Q3 + 1.5 IQR; long-tailed columns have some"]
    return frame


def outliers_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    shown = frame.assign(
        n=[f"{n:,}" for n in frame["n"]],
        quartiles=[f"{_number(a)} – {_number(b)}" for a, b in zip(frame["q1"], frame["q3"], strict=True)],
        fences=[f"{_number(a)} – {_number(b)}" for a, b in zip(frame["low"], frame["high"], strict=True)],
        below=[f"{n:,}" for n in frame["below"]],
        above=[f"{n:,}" for n in frame["above"]],
        share=[f"{s:.2%}" for s in frame["share"]],
    )
    headers = {
        "table": "Table",
        "column": "Column",
        "n": "Values",
        "quartiles": "Q1 – Q3",
        "fences": "Fences",
        "below": "Below",
        "above": "Above",
        "share": "Outside",
    }
    raw = {"n": frame["n"], "quartiles": frame["q1"], "fences": frame["low"]} | {
        c: frame[c] for c in ("below", "above", "share")
    }
    widths = [1.2, 1.5, 1, 1.6, 1.8, 0.8, 0.8, 0.8]
    return table_figure(shown, headers, "No numeric values in this window", widths=widths, raw=raw)


def _number(value: float) -> str:
    """Four significant digits below 1,000, whole numbers with separators above."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def duplicates_data(db: Database, params: dict) -> pd.DataFrame:
    """Per table keyed by request_id: ids logged more than once in the window, on one day or across days."""
    rows, notes = [], []
    for table, found in each_table(db, REQUEST_IDS, "quality_duplicates", params["start"], params["end"], notes):
        found = found.iloc[0]
        rows.append({"table": table, **found.drop("examples").to_dict(), "examples": ", ".join(found["examples"])})
    columns = ["table", "with_id", "repeated_ids", "extra_copies", "across_days", "examples"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["notes"] = notes + ["the value rules count repeats within a day; these, within the whole window"]
    return frame


def duplicates_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if not frame["with_id"].any():
        return empty_figure("No request_ids in this window")
    shown = frame.assign(
        **{c: [f"{n:,}" for n in frame[c]] for c in ("with_id", "repeated_ids", "extra_copies", "across_days")},
        examples=frame["examples"].replace("", "—"),
    )
    headers = {
        "table": "Table",
        "with_id": "Rows with an id",
        "repeated_ids": "Ids repeated",
        "extra_copies": "Extra copies",
        "across_days": "On several days",
        "examples": "Most repeated",
    }
    tints = [DRIFT_TINTS["warning"] if n else "white" for n in frame["repeated_ids"]]
    raw = {c: frame[c] for c in ("with_id", "repeated_ids", "extra_copies", "across_days")}
    widths = [1, 1, 1, 1, 1, 2.5]
    return table_figure(shown, headers, "No request_ids in this window", row_colors=tints, widths=widths, raw=raw)


register(
    ChartSpec(
        id="quality.contract",
        title="Tables against the data contract",
        page="/quality",
        params=WINDOW,
        data=contract_data,
        figure=contract_figure,
        table=True,
        tables=tuple(TABLES),
        height=330,
        description="Required columns, their types and readable files, from the parquet footers (`dashapp check`).",
    )
)
register(
    ChartSpec(
        id="quality.freshness",
        title="Freshness",
        page="/quality",
        params=WINDOW,
        data=freshness_data,
        figure=freshness_figure,
        table=True,
        tables=CADENCED,
        height=250,
        description="Time from each table's newest row to the window's end, against how often it should get new rows.",
    )
)
register(
    ChartSpec(
        id="quality.completeness",
        title="Completeness per column",
        page="/quality",
        params=WINDOW,
        data=completeness_data,
        figure=completeness_figure,
        table=True,
        tables=TIMED,
        height=360,
        description="Share of the window's rows with a value: required columns first, worst first, tinted below 99%"
        " and 90%.",
    )
)
register(
    ChartSpec(
        id="quality.values",
        title="Predictions breaking the value rules",
        page="/quality",
        params=WINDOW,
        data=values_data,
        figure=values_figure,
        tables=("predictions",),
        markers="models",
        height=300,
        description="Per day: scores outside [-1, 1], confidences outside [0, 1], unknown labels, missing or repeated"
        " request_ids.",
    )
)
register(
    ChartSpec(
        id="quality.rows",
        title="Rows per day",
        page="/quality",
        params=WINDOW,
        data=rows_data,
        figure=rows_figure,
        tables=TIMED,
        markers="models",
        height=330,
        description="Each time-stamped table's rows per UTC day, coloured against the same weekday's median in the four"
        " weeks before: red is a day short of rows.",
    )
)
register(
    ChartSpec(
        id="quality.missing",
        title="Missing values per day",
        page="/quality",
        params=WINDOW,
        data=missing_data,
        figure=missing_figure,
        tables=TIMED,
        markers="models",
        height=330,
        description="Share of each day's rows without a value, for the columns that miss any: amber from 1%, red from"
        " 10%.",
    )
)
register(
    ChartSpec(
        id="quality.outliers",
        title="Outliers per numeric column (IQR rule)",
        page="/quality",
        params=WINDOW,
        data=outliers_data,
        figure=outliers_figure,
        table=True,
        tables=TIMED,
        height=480,
        description="Values beyond 1.5 interquartile ranges from the quartiles, over the window, most outside first.",
    )
)
register(
    ChartSpec(
        id="quality.duplicates",
        title="Repeated request_ids in the window",
        page="/quality",
        params=WINDOW,
        data=duplicates_data,
        figure=duplicates_figure,
        table=True,
        tables=REQUEST_IDS,
        height=200,
        description="Ids logged more than once anywhere in the window, also on different days; the most repeated"
        " first.",
    )
)
