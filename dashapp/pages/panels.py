"""Chart panels: a card per registered chart, filled by one pattern-matching callback.

Every panel on every page renders through `charts.render`, from the filters in the URL. A panel
whose table is missing or unreadable shows an empty state that names the file and the columns it
needs; the other panels keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dash_bootstrap_components as dbc
from dash import MATCH, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from ..charts import get_chart, render
from ..charts.figures import empty_figure
from ..charts.themes import page_theme, themed
from ..errors import ErrorBody, error_body
from . import alternative, query_args
from .grids import GRID, GRID_DRAWN, GRID_STATUS, grid_panel, grid_props, register_grid_callbacks
from .labels import labelled
from .refresh import DRAWN, STALE, panel_version
from .share import register_share_callback, share_button

if TYPE_CHECKING:
    from ..db import Database

GRAPH, STATUS = "chart-graph", "chart-status"
# plotly.js 4 shows a "Share chart..." button by default that uploads the figure's data to Plotly Cloud.
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
# Built once as the plain dict Dash sends: a go.Figure per card made a page's layout cost 20-50 ms.
# Transparent, so the card's own background shows through it in either theme.
CLEAR = "rgba(0,0,0,0)"
LOADING_FIGURE = empty_figure("Loading…").update_layout(paper_bgcolor=CLEAR, plot_bgcolor=CLEAR).to_plotly_json()


def chart_card(chart_id: str) -> html.Div:
    """Lay out one chart: title, graph and a footer that says what data it covers."""
    spec = get_chart(chart_id)
    card = dbc.Card(
        [
            dbc.CardHeader(
                [
                    html.Div(
                        [
                            alternative.title(chart_id, spec.title),
                            html.Small(spec.description, className="text-muted ms-2"),
                        ]
                    ),
                    share_button(chart_id),
                ],
                className="d-flex align-items-start",
            ),
            dbc.CardBody(
                grid_panel(spec)
                if spec.table
                else dcc.Loading(
                    dcc.Graph(
                        id={"type": GRAPH, "chart": chart_id},
                        figure=LOADING_FIGURE,
                        config=GRAPH_CONFIG,
                        style={"height": f"{spec.height}px"},
                    ),
                    type="dot",
                    delay_show=400,
                ),
                className="p-1",
            ),
            dbc.CardFooter(
                [
                    html.Div(
                        id={"type": GRID_STATUS if spec.table else STATUS, "chart": chart_id}, className="flex-grow-1"
                    ),
                    # A grid is its own text alternative, with its own CSV button (grids.py).
                    *([] if spec.table else [alternative.csv_link(chart_id)]),
                ],
                className="small text-muted py-1 d-flex",
            ),
        ],
        className="h-100 shadow-sm",
    )
    drawn = {"type": GRID_DRAWN if spec.table else DRAWN, "chart": chart_id}
    stores = [dcc.Store(id=drawn), dcc.Store(id={"type": STALE, "chart": chart_id})]
    summary = [] if spec.table else [alternative.summary(chart_id)]
    figure = alternative.figure_props(chart_id, summarized=not spec.table)
    return html.Div([card, *stores, *summary], className="h-100 chart-card", **figure)


def control_col(label: str, control, md: int) -> dbc.Col:
    """A page control with its small label above it, in a grid column `md` wide."""
    return dbc.Col(labelled(label, control, "d-block"), md=md)


def controls_card(*rows: list) -> dbc.Card:
    """A page's own controls above its panels: one grid row per list of columns."""
    body = [
        dbc.Row(columns, className="g-2" + (" mb-2" if i < len(rows) - 1 else "")) for i, columns in enumerate(rows)
    ]
    return dbc.Card(dbc.CardBody(body, className="py-2"), className="mb-3 shadow-sm")


def update_chart(search: str | None, graph_id: dict, db: Database):
    """Render one panel from the URL's query string: (figure, footer)."""
    return render_panel(search, graph_id, db)[:2]


def render_panel(search: str | None, graph_id: dict, db: Database) -> tuple[object, object, bool]:
    """(figure, footer, settled): not settled when the server would not draw it just now (busy, too slow),
    so that auto-refresh tries again on its next tick."""
    try:
        # Both inputs are client-controlled (anyone can POST a callback): forged shapes are no chart, no filters.
        spec = get_chart(str(graph_id.get("chart") if isinstance(graph_id, dict) else None))
        rendered = render(spec, query_args(search), db)
    except Exception as exc:
        return panel_error(error_body(exc, f"panel {graph_id}"))
    notes = " · ".join(rendered.notes)
    return rendered.figure, " · ".join(part for part in (rendered.coverage, notes) if part), True


def panel_error(body: ErrorBody) -> tuple[object, object, bool]:
    """A panel's (figure, footer, settled) for an error: what to change, what is missing, or the log's id.

    A refused query is not settled: the server would not draw it just now, and may on the next tick.
    """
    if body.param is not None:
        return empty_figure("Invalid filter"), dbc.Alert(body.error, color="warning", className="mb-0 py-1"), True
    if body.table is not None:
        return empty_figure(f"{body.table} unavailable"), empty_state(body), True
    if body.reason is not None:
        return empty_figure("Not drawn"), dbc.Alert(body.error, color="warning", className="mb-0 py-1"), False
    if body.status == 404:
        return empty_figure("Unknown chart"), body.error, True
    message = f"This panel failed; the error is logged with id {body.error_id}." if body.error_id else body.error
    return empty_figure("Panel failed"), dbc.Alert(message, color="danger", className="mb-0 py-1"), True


def redraw_chart(search, graph_id, drawn, triggered, db: Database, in_page_theme: bool = True):
    """Render a panel and say which data version it drew: (figure, footer, version).

    `in_page_theme`: the figure in the URL's theme; False for a grid, which takes the figure as built (its
    tints and their dark counterparts go to the browser, whose CSS shows the one for the page's theme).

    A URL change that leaves the chart's version as drawn (refresh=, another chart's parameter) redraws
    nothing. A panel the server would not draw just now is drawn as no version (""), so the next tick
    retries it. The figure keeps the user's zoom and legend choices while the URL stays (uirevision).
    """
    version = panel_version(graph_id.get("chart") if isinstance(graph_id, dict) else None, search, db)
    if triggered == "url" and version is not None and version == drawn:
        raise PreventUpdate
    figure, footer, settled = render_panel(search, graph_id, db)
    # themed copies (the cached figure is shared) and gives the plain dict a grid reads, error figures included.
    figure = themed(figure, page_theme(query_args(search)) if in_page_theme else "light")
    figure = {**figure, "layout": {**figure.get("layout", {}), "uirevision": str(search)}}
    return figure, footer, version if settled or version is None else ""


def empty_state(body: ErrorBody) -> html.Div:
    """Explain a missing or unreadable table: which one, why, and what it must contain."""
    children = [html.Strong(f"{body.table}: "), body.table_reason]
    if body.expected_columns:
        children += [html.Br(), f"Expected columns: {body.expected_columns}."]
    return dbc.Alert(children, color="secondary", className="mb-0 py-1 empty-state")


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(
        Output({"type": GRAPH, "chart": MATCH}, "figure"),
        Output({"type": STATUS, "chart": MATCH}, "children"),
        Output({"type": DRAWN, "chart": MATCH}, "data"),
        Output({"type": alternative.SUMMARY, "chart": MATCH}, "children"),
        Output({"type": alternative.CSV, "chart": MATCH}, "href"),
        Input("url", "search"),
        Input({"type": STALE, "chart": MATCH}, "data"),
        State({"type": GRAPH, "chart": MATCH}, "id"),
        State({"type": DRAWN, "chart": MATCH}, "data"),
    )
    def _update_chart(search, _stale, graph_id, drawn):
        figure, footer, version = redraw_chart(search, graph_id, drawn, ctx.triggered_id, db)
        return figure, footer, version, *alternative.text_alternative(figure, graph_id, search, db.config.url_prefix)

    # A table chart's panel holds a grid (grids.py), drawn the same way from the same rendered figure.
    @app.callback(
        Output({"type": GRID, "chart": MATCH}, "rowData"),
        Output({"type": GRID, "chart": MATCH}, "columnDefs"),
        Output({"type": GRID, "chart": MATCH}, "dashGridOptions"),
        Output({"type": GRID_STATUS, "chart": MATCH}, "children"),
        Output({"type": GRID_DRAWN, "chart": MATCH}, "data"),
        Input("url", "search"),
        Input({"type": STALE, "chart": MATCH}, "data"),
        State({"type": GRID, "chart": MATCH}, "id"),
        State({"type": GRID_DRAWN, "chart": MATCH}, "data"),
    )
    def _update_grid(search, _stale, grid_id, drawn):
        figure, footer, version = redraw_chart(search, grid_id, drawn, ctx.triggered_id, db, in_page_theme=False)
        return *grid_props(figure), footer, version

    register_grid_callbacks(app)

    register_share_callback(app, db)
