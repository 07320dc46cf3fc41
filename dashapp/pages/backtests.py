"""Backtests: the agent's runs side by side, for a trader deciding whether a version goes live."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import current_app

from ..background import job_scope
from ..charts import options
from ..charts.backtests import ROLLING, TEARSHEET_STAGES, Progress, no_progress, selected_runs, tearsheet
from ..charts.page_names import PAGE_NAMES
from ..errors import DashappError
from . import PAGE_PARAM, Page, query_args
from .panels import chart_card, control_col, controls_card

if TYPE_CHECKING:
    from ..db import Database

STATUS_CLASS = "small text-muted"
WINDOW_LABELS = {"21": "1 month", "63": "3 months", "126": "6 months", "252": "1 year"}


def _param(name: str) -> dict:
    return {"type": PAGE_PARAM, "name": name}


def controls(args: dict, runs: pd.DataFrame, asked: list[str], shown: list[str], symbols: list[str]) -> dbc.Card:
    """Run picker, period, focus run, and the options of single charts; the shell keeps them in the URL.

    `asked` are the runs in the URL (none: each agent version's newest backtest, which `shown` lists);
    `symbols` are the ones the focus run traded. An unknown run stays in the picker, so its panels
    can say what is wrong with it.
    """
    options = [
        {
            "label": f"{r.run_id} · {r.agent} {r.agent_version} · {r.kind}"
            + (f" · {r.first_day:%Y-%m-%d} → {r.last_day:%Y-%m-%d}" if r.days else " · no returns"),
            "value": r.run_id,
        }
        for r in runs.itertuples()
    ] + [{"label": f"{run_id} · unknown run", "value": run_id} for run_id in asked if run_id not in set(runs["run_id"])]
    return controls_card(
        [
            control_col(
                "Runs (search by agent, version, kind, date)",
                dcc.Dropdown(
                    id=_param("run"),
                    options=options,
                    value=asked,
                    multi=True,
                    placeholder="Each agent version's newest backtest",
                    searchable=True,
                ),
                6,
            ),
            control_col("From", dbc.Input(id=_param("from"), type="date", value=args.get("from"), size="sm"), 2),
            control_col("To", dbc.Input(id=_param("to"), type="date", value=args.get("to"), size="sm"), 2),
            dbc.Col(tearsheet_controls(), md=2),
        ],
        [
            control_col(
                "Focus run (monthly table, trades, paper tracking, tearsheet)",
                dcc.Dropdown(
                    id=_param("focus"),
                    options=sorted({*shown, *filter(None, [args.get("focus")])}),
                    value=args.get("focus"),
                    placeholder=shown[0] if shown else "",
                    clearable=True,
                ),
                4,
            ),
            control_col(
                "Cumulative return scale",
                dbc.RadioItems(
                    id=_param("scale"),
                    options=["linear", "log"],
                    value=args.get("scale", "linear"),
                    inline=True,
                ),
                2,
            ),
            control_col(
                "Rolling window",
                dbc.RadioItems(
                    id=_param("window"),
                    inline=True,
                    value=args.get("window", ROLLING.default),
                    options=[{"label": WINDOW_LABELS[c], "value": c} for c in ROLLING.choices],
                ),
                4,
            ),
            control_col(
                "Trades of",
                dcc.Dropdown(
                    id=_param("ticker"),
                    options=sorted({*symbols, *filter(None, [args.get("ticker")])}),
                    value=args.get("ticker"),
                    placeholder="most traded",
                ),
                2,
            ),
        ],
    )


def tearsheet_controls() -> list:
    """The download button; while the report is built, a progress bar, the stage it is at and Cancel."""
    return [
        dbc.Button("Download tearsheet", id="tearsheet-button", color="primary", size="sm", className="mt-3 w-100"),
        html.Div(
            [
                dbc.Progress(id="tearsheet-progress", value=0, striped=True, animated=True, className="mt-1"),
                html.Div(id="tearsheet-stage", className="small text-muted"),
                dbc.Button("Cancel", id="tearsheet-cancel", color="link", size="sm", className="p-0"),
            ],
            id="tearsheet-running",
            className="d-none",
        ),
        html.Div(id="tearsheet-status", className=STATUS_CLASS),
        dcc.Download(id="tearsheet-download"),
    ]


def layout(args: dict) -> list:
    db = current_app.extensions["dashapp"].db
    asked = list(args.get("run", []))
    runs = pd.DataFrame(columns=["run_id", "agent", "agent_version", "kind", "days"])
    shown, symbols = asked, []
    try:  # a missing table or an unknown run: the panels say so, the pickers start short
        runs = options.runs(db)
        shown = options.default_runs(db) if not asked else asked
        focus = args.get("focus") or (shown[0] if shown else None)
        symbols = options.traded_symbols(db, focus) if focus else []
    except DashappError:
        pass
    row = "mb-3 g-3"
    return [
        controls(args, runs, asked, shown, symbols),
        dbc.Row(dbc.Col(chart_card("backtest.cumulative")), className=row),
        dbc.Row(
            [dbc.Col(chart_card("backtest.metrics"), lg=6), dbc.Col(chart_card("backtest.drawdown"), lg=6)],
            className=row,
        ),
        dbc.Row(
            [dbc.Col(chart_card("backtest.worst_drawdowns"), lg=6), dbc.Col(chart_card("backtest.rolling"), lg=6)],
            className=row,
        ),
        dbc.Row(
            [dbc.Col(chart_card("backtest.monthly"), lg=6), dbc.Col(chart_card("backtest.yearly"), lg=6)], className=row
        ),
        dbc.Row(
            [dbc.Col(chart_card("backtest.distribution"), lg=5), dbc.Col(chart_card("backtest.trades"), lg=7)],
            className=row,
        ),
        dbc.Row(dbc.Col(chart_card("backtest.tracking")), className=row),
    ]


def register_callbacks(app: Dash, db: Database) -> None:
    # A background callback: the report takes seconds (QuantStats draws about fifteen charts), longer than a
    # request should, so a job builds it (background.py) while the browser polls for its stage and the file.
    # No cache_by: the report is already cached by the results cache, keyed by the data's files.
    @app.callback(
        Output("tearsheet-download", "data"),
        Output("tearsheet-status", "children"),
        Input("tearsheet-button", "n_clicks"),
        State("url", "search"),
        background=True,
        progress=[Output("tearsheet-progress", "value"), Output("tearsheet-stage", "children")],
        progress_default=[0, ""],
        running=[
            (Output("tearsheet-button", "disabled"), True, False),
            (Output("tearsheet-running", "className"), "", "d-none"),
            (Output("tearsheet-status", "className"), "d-none", STATUS_CLASS),
        ],
        cancel=[Input("tearsheet-cancel", "n_clicks")],
        interval=500,
        prevent_initial_call=True,
    )
    def _tearsheet(set_progress, clicks, search):
        with job_scope(app.server, db) as job_db:
            return download_tearsheet(search, job_db, progress_reporter(set_progress))


def progress_reporter(set_progress) -> Progress:
    """Turn the report's stages into the progress bar's value (the share of stages begun) and its status line."""

    def report(stage: str) -> None:
        step = TEARSHEET_STAGES.index(stage) + 1
        set_progress([round(100 * step / (len(TEARSHEET_STAGES) + 1)), f"Building the tearsheet: {stage}…"])

    return report


def download_tearsheet(search: str | None, db: Database, progress: Progress = no_progress):
    """Build the focus run's tearsheet for the period in the URL: (download, status text)."""
    args = query_args(search)
    try:
        runs = selected_runs(db, {"run": args.get("run", [])})["run_id"].tolist()
        run_id = (args.get("focus") or runs[:1] or [None])[0]
        if run_id is None:
            return no_update, "No run to report on."
        period = {k: args[k] for k in ("from", "to") if k in args}
        name, body = tearsheet(db, {"run": [run_id], **period}, progress)
    except DashappError as exc:
        return no_update, exc.message
    return dcc.send_string(body, name, type="text/html"), f"{name} downloaded."


PAGE = Page(path="/backtests", name=PAGE_NAMES["/backtests"], order=4, layout=layout, global_filters=False)
