"""Data quality charts: does each table keep the contract, how complete is it, and do the values make sense?"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..check import check_data_dir
from ..contract import LABELS, TABLES
from ..db import Database
from ..errors import DataUnavailable
from .figures import DRIFT_TINTS, base_figure, empty_figure, table_figure
from .registry import WINDOW, ChartSpec, register

TIMED = tuple(name for name, table in TABLES.items() if table.time_column)
STATUS_TINTS = {"ok": DRIFT_TINTS["ok"], "missing": DRIFT_TINTS["warning"], "invalid": DRIFT_TINTS["critical"]}
WARN_BELOW, CRITICAL_BELOW = 0.99, 0.9  # completeness of a column
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
