"""Sentiment model: is it still good, and is the canary as good as the stable version?"""

from __future__ import annotations

import dash_bootstrap_components as dbc

from ..charts.page_names import PAGE_NAMES
from . import Page
from .panels import chart_card


def layout(args: dict) -> list:
    """The global filters drive every panel: pick a model version there to see its own figures."""
    row = "mb-3 g-3"
    return [
        dbc.Row(dbc.Col(chart_card("sentiment.versions")), className=row),
        dbc.Row(
            [dbc.Col(chart_card("sentiment.accuracy"), lg=7), dbc.Col(chart_card("sentiment.confusion"), lg=5)],
            className=row,
        ),
        dbc.Row(
            [dbc.Col(chart_card("sentiment.calibration"), lg=5), dbc.Col(chart_card("sentiment.training"), lg=7)],
            className=row,
        ),
        dbc.Row(dbc.Col(chart_card("sentiment.training_curves")), className=row),
        dbc.Row(dbc.Col(chart_card("sentiment.score_bands")), className=row),
        dbc.Row(
            [dbc.Col(chart_card("sentiment.confidence"), lg=5), dbc.Col(chart_card("sentiment.labels"), lg=7)],
            className=row,
        ),
    ]


PAGE = Page(path="/sentiment", name=PAGE_NAMES["/sentiment"], order=3, layout=layout)
