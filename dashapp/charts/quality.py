"""Data quality charts: does each table keep the contract, how complete is it, and do the values make sense?"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go

from ..alerts.metrics import CADENCED, METRICS, Span
from ..check import check_data_dir
from ..contract import LABELS, TABLES
from ..db import Database
from ..errors import DataUnavailable
from ..timerange import align_up
from .figures import DRIFT_TINTS, base_figure, empty_figure, table_figure
from .registry import WINDOW, ChartSpec, register

TIMED = tuple(name for name, table in TABLES.items() if table.time_column)
STATUS_TINTS = {"ok": DRIFT_TINTS["ok"], "missing": DRIFT_TINTS["warning"], "invalid": DRIFT_TINTS["critical"]}
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
    for report in check_data_dir(db.config.data_dir):
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
    return table_figure(shown, headers, "No tables", row_colors=tints, widths=[1.2, 0.8, 0.6, 1, 3.5, 3.5])


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
    return table_figure(shown, headers, "No tables with a cadence", row_colors=tints)


def _duration(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} days"


def completeness_data(db: Database, params: dict) -> pd.DataFrame:
    """Per time-stamped table and column, the share of the window's rows that hold a value: required columns
    first, worst first."""
    parts, notes = [], []
    for table in TIMED:
        try:
            counts = db.run_on(
                table,
                "quality_completeness",
                time_column=f"^{TABLES[table].time_column}$",
                start=params["start"],
                end=params["end"],
            ).iloc[0]
        except DataUnavailable as exc:
            notes.append(f"{table}: {exc.reason}")
            continue
        rows = int(counts["rows"])
        if rows == 0:
            continue
        required = set(TABLES[table].required_names)
        optional = {c.name for c in TABLES[table].optional}
        for column, present in counts.drop("rows").items():
            if column in optional and present == 0:
                continue  # an optional column this log does not have: nothing is missing
            missing = rows - int(present)
            parts.append(
                {"table": table, "column": column, "required": column in required, "rows": rows, "missing": missing}
            )
    frame = pd.DataFrame(parts, columns=["table", "column", "required", "rows", "missing"])
    frame["completeness"] = 1 - frame["missing"] / frame["rows"]
    frame = frame.sort_values(["required", "completeness", "table", "column"], ascending=[False, True, True, True])
    frame = frame.reset_index(drop=True)
    gaps = (frame["missing"] > 0) & frame["required"]
    frame.attrs["notes"] = notes + [f"{gaps.sum()} of {frame['required'].sum()} required columns have missing values"]
    return frame


def completeness_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No rows in this window")
    shown = frame.assign(
        column=[c if req else f"{c} (may be empty)" for c, req in zip(frame["column"], frame["required"], strict=True)],
        completeness=[f"{c:.2%}" for c in frame["completeness"]],
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
    return table_figure(shown, headers, "No rows in this window", row_colors=tints)


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


for name, title, data, figure, tables, height, description in (
    (
        "contract",
        "Tables against the data contract",
        contract_data,
        contract_figure,
        tuple(TABLES),
        330,
        "Required columns, their types and readable files, from the parquet footers (`dashapp check`).",
    ),
    (
        "freshness",
        "Freshness",
        freshness_data,
        freshness_figure,
        CADENCED,
        250,
        "Time from each table's newest row to the window's end, against how often it should get new rows.",
    ),
    (
        "completeness",
        "Completeness per column",
        completeness_data,
        completeness_figure,
        TIMED,
        360,
        "Share of the window's rows with a value: required columns first, worst first, tinted below 99% and 90%.",
    ),
    (
        "values",
        "Predictions breaking the value rules",
        values_data,
        values_figure,
        ("predictions",),
        300,
        "Per day: scores outside [-1, 1], confidences outside [0, 1], unknown labels, missing or repeated request_ids.",
    ),
):
    register(
        ChartSpec(
            id=f"quality.{name}",
            title=title,
            page="/quality",
            params=WINDOW,
            data=data,
            figure=figure,
            tables=tables,
            description=description,
            height=height,
        )
    )
