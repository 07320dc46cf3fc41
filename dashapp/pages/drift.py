"""Drift: which input features moved against the baseline, why, and whether the model's outputs did."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc
from flask import current_app

from ..charts.drift import SORTS, feature_names
from ..charts.page_names import PAGE_NAMES
from ..errors import DataUnavailable
from . import PAGE_PARAM, Page
from .panels import chart_card, control_col, controls_card


def controls(args: dict) -> dbc.Card:
    """The baseline and feature pickers; the shell keeps their values in the URL."""
    try:
        features = feature_names(current_app.extensions["dashapp"].db)
    except DataUnavailable:
        features = []
    feature = args.get("feature")
    return controls_card(
        [
            control_col(
                "Compare with",
                dbc.RadioItems(
                    id={"type": PAGE_PARAM, "name": "reference"},
                    options=[
                        {"label": "reference data", "value": "reference"},
                        {"label": "previous window", "value": "previous"},
                    ],
                    value=args.get("reference", "reference"),
                    inline=True,
                ),
                4,
            ),
            control_col(
                "Feature",
                dcc.Dropdown(
                    id={"type": PAGE_PARAM, "name": "feature"},
                    options=sorted(set(features) | ({feature} if feature else set())),
                    value=feature,
                    placeholder="The most drifted feature",
                ),
                4,
            ),
            control_col(
                "Sort the table by",
                dbc.RadioItems(
                    id={"type": PAGE_PARAM, "name": "sort"},
                    options=[{"label": name, "value": name} for name in SORTS],
                    value=args.get("sort", "severity"),
                    inline=True,
                ),
                4,
            ),
        ]
    )


def layout(args: dict) -> list:
    return [
        controls(args),
        dbc.Row(dbc.Col(chart_card("drift.features")), className="mb-3"),
        dbc.Row(dbc.Col(chart_card("drift.heatmap")), className="mb-3"),
        dbc.Row(
            [
                dbc.Col(chart_card("drift.distribution"), lg=7),
                dbc.Col(chart_card("drift.prediction"), lg=5),
            ],
            className="g-3",
        ),
    ]


PAGE = Page(path="/drift", name=PAGE_NAMES["/drift"], order=2, layout=layout)
