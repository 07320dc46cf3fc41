"""Alerts: every rule's state, the firing periods, and what to do about each."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from ..charts.page_names import PAGE_NAMES
from . import Page
from .panels import chart_card


def layout(args: dict) -> list:
    return [
        dbc.Row([dbc.Col(chart_card("alerts.current"), lg=12)], className="g-3 mb-3"),
        dbc.Row([dbc.Col(chart_card("alerts.timeline"), lg=12)], className="g-3 mb-3"),
    ]


PAGE = Page(path="/alerts", name=PAGE_NAMES["/alerts"], order=8, layout=layout, entity_filters=False)
