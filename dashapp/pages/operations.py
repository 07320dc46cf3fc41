"""Operations: SLOs and error budgets, serving, the services around the model, and pipelines."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from ..charts.page_names import PAGE_NAMES
from . import Page
from .panels import chart_card


def _row(*chart_ids: str) -> dbc.Row:
    return dbc.Row([dbc.Col(chart_card(c), lg=12 // len(chart_ids)) for c in chart_ids], className="g-3 mb-3")


def _heading(text: str) -> html.H2:
    # Under the page's h1; styled as before.
    return html.H2(text, className="h5 mt-2 mb-2 text-secondary")


def layout(args: dict) -> list:
    return [
        _heading("Objectives"),
        _row("ops.slos"),
        _row("ops.error_budget", "ops.service_uptime"),
        _heading("Serving"),
        _row("ops.throughput", "ops.latency"),
        _row("ops.error_rate", "ops.cache_hit"),
        _row("ops.traffic_split", "ops.memory_latency"),
        _heading("Services"),
        _row("ops.service_resources", "ops.dependency_health"),
        _heading("Pipelines"),
        _row("ops.pipeline_runs", "ops.pipeline_health"),
    ]


PAGE = Page(path="/operations", name=PAGE_NAMES["/operations"], order=7, layout=layout)
