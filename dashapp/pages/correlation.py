"""Correlation: does the sentiment signal still move markets and the agent?"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc
from flask import current_app

from ..charts import options
from ..charts.correlation import ROLLING
from ..charts.page_names import PAGE_NAMES
from ..errors import DataUnavailable
from . import PAGE_PARAM, Page
from .panels import chart_card, control_col, controls_card


def controls(args: dict) -> dbc.Card:
    """Method, pooling, rolling window and the agent run; the shell keeps them in the URL."""
    try:
        runs = options.runs(current_app.extensions["dashapp"].db)
        run_options = [{"label": f"{r.run_id} ({r.kind})", "value": r.run_id} for r in runs.itertuples() if r.days]
    except DataUnavailable:
        run_options = []
    chosen = args.get("agent_run")
    if chosen and chosen not in {o["value"] for o in run_options}:
        run_options.append({"label": f"{chosen} (unknown run)", "value": chosen})
    radio = {"inline": True, "className": "small"}
    return controls_card(
        [
            control_col(
                "Correlation",
                dbc.RadioItems(
                    id={"type": PAGE_PARAM, "name": "method"},
                    options=["pearson", "spearman"],
                    value=args.get("method", "pearson"),
                    **radio,
                ),
                3,
            ),
            control_col(
                "Matrix",
                dbc.RadioItems(
                    id={"type": PAGE_PARAM, "name": "by"},
                    options=[
                        {"label": "all symbols pooled", "value": "pooled"},
                        {"label": "per symbol", "value": "symbol"},
                    ],
                    value=args.get("by", "pooled"),
                    **radio,
                ),
                3,
            ),
            control_col(
                "Rolling window (trading days)",
                dbc.RadioItems(
                    id={"type": PAGE_PARAM, "name": "rolling"},
                    options=list(ROLLING.choices),
                    value=args.get("rolling", ROLLING.default),
                    **radio,
                ),
                3,
            ),
            control_col(
                "Agent run (net action)",
                dcc.Dropdown(
                    id={"type": PAGE_PARAM, "name": "agent_run"},
                    options=run_options,
                    value=chosen,
                    placeholder="newest paper run",
                ),
                3,
            ),
        ],
    )


def layout(args: dict) -> list:
    return [
        controls(args),
        dbc.Row(
            [dbc.Col(chart_card("correlation.matrix"), lg=7), dbc.Col(chart_card("correlation.symbols"), lg=5)],
            className="mb-3 g-3",
        ),
        dbc.Row(
            [dbc.Col(chart_card("correlation.lead_lag"), lg=5), dbc.Col(chart_card("correlation.rolling"), lg=7)],
            className="mb-3 g-3",
        ),
    ]


PAGE = Page(path="/correlation", name=PAGE_NAMES["/correlation"], order=5, layout=layout)
