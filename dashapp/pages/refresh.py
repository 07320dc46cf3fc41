"""Auto-refresh, as Grafana's refresh=: a picker in the navbar, kept in the URL, and a tick that redraws what changed.

Every panel keeps the data version it drew (charts.registry.chart_version: its parameters and the files of
the tables it reads, no query). Each tick of the interval is one callback that compares those versions with
the data's now and marks only the changed panels stale, which redraws them. An idle tick lists files and
answers 204: no query runs and nothing is sent back. The picker sits in the navbar, not the filter bar,
so that it is there on every page (Backtests hides the filter bar) and where Grafana has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ..charts import get_chart
from ..charts.registry import REFRESH, REFRESH_SECONDS, chart_version, refresh_seconds
from ..charts.themes import page_theme
from ..errors import BadParameter, DashappError
from . import query_args
from .grids import GRID_DRAWN

if TYPE_CHECKING:
    from ..db import Database

PICKER, INTERVAL, PICKER_ERROR = "refresh-picker", "refresh-interval", "refresh-error"
# Per chart card: the version its panel drew, and the mark a tick sets when the data moved on (panels.py).
DRAWN, STALE = "chart-drawn", "chart-stale"
LABELS = {"off": "Off", "5s": "5 s", "30s": "30 s", "1m": "1 min", "5m": "5 min"}


def refresh_picker(search: str = "") -> html.Div:
    """The picker, for the navbar, and the interval it drives, both set from the URL's query string `search`."""
    period, disabled, _ = interval_props(search)
    return html.Div(
        [
            html.Label("Refresh", htmlFor=PICKER, className="navbar-text small text-light me-2 mb-0"),
            dbc.Select(
                id=PICKER,
                options=[{"label": LABELS[value], "value": value} for value in REFRESH_SECONDS],
                value=refresh_state(search)[0],
                size="sm",
                className="refresh-picker",
            ),
            dcc.Interval(id=INTERVAL, interval=period, disabled=disabled),
        ],
        className="d-flex align-items-center ms-md-3 py-2 py-md-0 flex-shrink-0",
    )


def refresh_notice(search: str = "") -> html.Div:
    """Where a bad refresh= value is named, above the page (the navbar has no room for a sentence)."""
    return html.Div(interval_props(search)[2], id=PICKER_ERROR)


def refresh_state(search) -> tuple[str, int | None, str]:
    """From the URL: the picker's value, the interval in seconds (None: off), and the message for a bad refresh=."""
    args = query_args(search)
    try:
        seconds = refresh_seconds(args)
    except BadParameter as exc:
        return REFRESH.default, None, exc.message
    return next(value for value, period in REFRESH_SECONDS.items() if period == seconds), seconds, ""


def interval_props(search) -> tuple[int, bool, dbc.Alert | None]:
    """The interval's period (ms) and whether it is off, and the notice naming a bad refresh= value."""
    _, seconds, message = refresh_state(search)
    notice = dbc.Alert(message, color="warning", className="py-1 mb-2 small") if message else None
    return (seconds or 60) * 1000, seconds is None, notice


def search_with_refresh(search, value):
    """The query string with refresh= set to the picker's value (off: left out); no_update if that changes nothing."""
    if not isinstance(value, str) or value not in REFRESH_SECONDS:  # client-controlled: a forged value changes nothing
        return no_update
    args = {k: v for k, v in query_args(search).items() if k != REFRESH.name}
    if value != REFRESH.default:
        args[REFRESH.name] = [value]
    query = urlencode(args, doseq=True)
    new = f"?{query}" if query else ""
    return no_update if new == (search or "") else new


def panel_version(chart_id, search, db: Database) -> str | None:
    """The version of the data a panel draws from the URL, None when its parameters draw nothing (it says why)."""
    try:
        args = query_args(search)
        # The theme is part of what a panel drew: switching it redraws the panels, a tick does not.
        return chart_version(get_chart(str(chart_id)), args, db) + ("·dark" if page_theme(args) == "dark" else "")
    except DashappError:
        return None


def stale_marks(charts: list, drawn: dict, search, tick, db: Database) -> list:
    """For each chart on the page: a new mark when the version it drew is not the data's now, else no_update.

    A chart not drawn yet (None) is skipped: its own first render is on its way. Nothing stale: PreventUpdate.
    """
    stale = {
        chart
        for chart, version in drawn.items()
        if isinstance(version, str) and panel_version(chart, search, db) != version
    }
    if not stale:
        raise PreventUpdate
    mark = tick if isinstance(tick, int) else 0
    return [mark if chart in stale else no_update for chart in charts]


def _chart(item) -> str | None:
    """The chart id of a pattern-matched component in a callback request (client-controlled)."""
    ident = item.get("id") if isinstance(item, dict) else None
    return str(ident.get("chart")) if isinstance(ident, dict) else None


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(
        Output(INTERVAL, "interval"),
        Output(INTERVAL, "disabled"),
        Output(PICKER_ERROR, "children"),
        Input("url", "search"),
        prevent_initial_call=True,  # the layout starts them from the URL
    )
    def _interval(search):
        return interval_props(search)

    @app.callback(
        Output({"type": STALE, "chart": ALL}, "data"),
        Input(INTERVAL, "n_intervals"),
        State("url", "search"),
        State({"type": DRAWN, "chart": ALL}, "data"),
        State({"type": GRID_DRAWN, "chart": ALL}, "data"),  # the table panels' (grids.py)
        prevent_initial_call=True,
    )
    def _tick(tick, search, _drawn, _grids_drawn):
        charts = [_chart(item) for item in ctx.outputs_list]
        states = [*ctx.states_list[1], *ctx.states_list[2]]
        drawn = {_chart(item): item.get("value") for item in states if isinstance(item, dict)}
        return stale_marks(charts, drawn, search, tick, db)
