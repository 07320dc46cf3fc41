"""Overview: is everything all right? Key numbers, volume, label mix, accuracy and the latest alerts."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from ..charts.page_names import PAGE_NAMES
from . import Page
from .panels import chart_card


def layout(args: dict) -> list:
    return [
        dbc.Row(dbc.Col(chart_card("overview.kpis")), className="mb-3"),
        dbc.Row(
            [
                dbc.Col(chart_card("overview.volume"), lg=8),
                dbc.Col(chart_card("overview.label_mix"), lg=4),
            ],
            className="g-3 mb-3",
        ),
        dbc.Row(
            [
                dbc.Col(chart_card("overview.accuracy"), lg=5),
                dbc.Col(chart_card("overview.alerts"), lg=7),
            ],
            className="g-3",
        ),
    ]


PAGE = Page(path="/", name=PAGE_NAMES["/"], order=0, layout=layout)
