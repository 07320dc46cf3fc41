"""Operations: serving throughput, latency, errors, cache, traffic split and pipelines."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from . import Page
from .panels import chart_card


def _row(*chart_ids: str) -> dbc.Row:
    return dbc.Row([dbc.Col(chart_card(c), lg=12 // len(chart_ids)) for c in chart_ids], className="g-3 mb-3")


def layout(args: dict) -> list:
    return [
        _row("ops.throughput", "ops.latency"),
        _row("ops.error_rate", "ops.cache_hit"),
        _row("ops.traffic_split", "ops.pipeline_runs"),
        _row("ops.pipeline_health"),
    ]


PAGE = Page(path="/operations", name="Operations", order=7, layout=layout)
