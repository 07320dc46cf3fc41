"""Data quality: do the logs keep the contract, are they complete, and are their values plausible?"""

from __future__ import annotations

import dash_bootstrap_components as dbc

from ..charts.page_names import PAGE_NAMES
from . import Page
from .panels import chart_card


def layout(args: dict) -> list:
    return [
        dbc.Row(
            [dbc.Col(chart_card("quality.contract"), lg=8), dbc.Col(chart_card("quality.freshness"), lg=4)],
            className="g-3 mb-3",
        ),
        dbc.Row(dbc.Col(chart_card("quality.rows")), className="g-3 mb-3"),
        dbc.Row(
            [dbc.Col(chart_card("quality.completeness"), lg=5), dbc.Col(chart_card("quality.missing"), lg=7)],
            className="g-3 mb-3",
        ),
        dbc.Row(
            [dbc.Col(chart_card("quality.values"), lg=7), dbc.Col(chart_card("quality.duplicates"), lg=5)],
            className="g-3 mb-3",
        ),
        dbc.Row(dbc.Col(chart_card("quality.outliers")), className="g-3 mb-3"),
    ]


PAGE = Page(path="/quality", name=PAGE_NAMES["/quality"], order=1, layout=layout, entity_filters=False)
