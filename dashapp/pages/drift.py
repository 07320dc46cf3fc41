"""Drift: which input features moved against the baseline, why, and whether the model's outputs did."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from ..charts.drift import SORTS, feature_names
from ..errors import DataUnavailable
from . import PAGE_PARAM, Page
from .panels import chart_card


def controls(args: dict) -> dbc.Card:
    """The baseline and feature pickers; the shell keeps their values in the URL."""
    try:
        features = feature_names(current_app.extensions["dashapp"].db)
    except DataUnavailable:
        features = []
    feature = args.get("feature")
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.Label("Compare with", className="form-label small text-muted mb-0 d-block"),
                            dbc.RadioItems(
                                id={"type": PAGE_PARAM, "name": "reference"},
                                options=[
                                    {"label": "reference data", "value": "reference"},
                                    {"label": "previous window", "value": "previous"},
                                ],
                                value=args.get("reference", "reference"),
                                inline=True,
                            ),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            html.Label("Feature", className="form-label small text-muted mb-0"),
                            dcc.Dropdown(
                                id={"type": PAGE_PARAM, "name": "feature"},
                                options=sorted(set(features) | ({feature} if feature else set())),
                                value=feature,
                                placeholder="The most drifted feature",
                            ),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            html.Label("Sort the table by", className="form-label small text-muted mb-0 d-block"),
                            dbc.RadioItems(
                                id={"type": PAGE_PARAM, "name": "sort"},
                                options=[{"label": name, "value": name} for name in SORTS],
                                value=args.get("sort", "severity"),
                                inline=True,
                            ),
                        ],
                        md=4,
                    ),
                ],
                className="g-2",
            ),
            className="py-2",
        ),
        className="mb-3 shadow-sm",
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


PAGE = Page(path="/drift", name="Drift", order=2, layout=layout)
