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

from ..charts import REGISTRY, get_chart, render
from ..charts.figures import empty_figure
from ..embed import share_links
from ..errors import ErrorBody, error_body
from . import alternative, query_args
from .labels import labelled
from .refresh import DRAWN, STALE, panel_version

if TYPE_CHECKING:
    from ..db import Database

GRAPH, STATUS = "chart-graph", "chart-status"
SHARE, SHARE_BODY = "chart-share", "chart-share-body"
# plotly.js 4 shows a "Share chart..." button by default that uploads the figure's data to Plotly Cloud.
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
SHARE_LABELS = {"page": "Page link with these filters", "embed": "Embed URL", "iframe": "iframe snippet"}
# Built once as the plain dict Dash sends: a go.Figure per card made a page's layout cost 20-50 ms.
LOADING_FIGURE = empty_figure("Loading…").to_plotly_json()


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
                dcc.Loading(
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
                    html.Div(id={"type": STATUS, "chart": chart_id}, className="flex-grow-1"),
                    alternative.csv_link(chart_id),
                ],
                className="small text-muted py-1 d-flex",
            ),
        ],
        className="h-100 shadow-sm",
    )
    stores = [dcc.Store(id={"type": DRAWN, "chart": chart_id}), dcc.Store(id={"type": STALE, "chart": chart_id})]
    figure = alternative.figure_props(chart_id)
    return html.Div([card, *stores, alternative.summary(chart_id)], className="h-100 chart-card", **figure)


def share_button(chart_id: str) -> html.Div:
    """A small Share button whose popover the share callback fills with the chart's links."""
    button_id = {"type": SHARE, "chart": chart_id}
    return html.Div(
        [
            dbc.Button("Share", id=button_id, color="link", size="sm", className="p-0 share-button"),
            dbc.Popover(
                dbc.PopoverBody("…", id={"type": SHARE_BODY, "chart": chart_id}),
                target=button_id,
                trigger="legacy",
                placement="bottom-end",
                className="share-popover",
            ),
        ],
        className="ms-auto ps-2 flex-shrink-0",
    )


def share_fields(href: str | None, button_id: dict, prefix: str) -> list[html.Div]:
    """The share popover's copyable fields for the page at `href` (the browser's URL, filters included), served
    under the URL prefix `prefix`."""
    chart_id = button_id.get("chart") if isinstance(button_id, dict) else None
    # Both come from the browser (anyone can POST a callback): no page URL or no such chart, nothing to share.
    if not (isinstance(href, str) and href.startswith(("http://", "https://")) and str(chart_id) in REGISTRY):
        raise PreventUpdate
    return [
        html.Div(
            [
                html.Label(SHARE_LABELS[name], className="form-label small text-muted mb-0"),
                dbc.InputGroup(
                    [
                        dbc.Input(value=value, readonly=True, name=name, className="share-field"),
                        dbc.InputGroupText(dcc.Clipboard(content=value, title="Copy", className="share-copy")),
                    ],
                    size="sm",
                ),
            ],
            className="mb-2",
        )
        for name, value in share_links(href, str(chart_id), prefix).items()
    ]


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


def redraw_chart(search, graph_id, drawn, triggered, db: Database):
    """Render a panel and say which data version it drew: (figure, footer, version).

    A URL change that leaves the chart's version as drawn (refresh=, another chart's parameter) redraws
    nothing. A panel the server would not draw just now is drawn as no version (""), so the next tick
    retries it. The figure keeps the user's zoom and legend choices while the URL stays (uirevision).
    """
    version = panel_version(graph_id.get("chart") if isinstance(graph_id, dict) else None, search, db)
    if triggered == "url" and version is not None and version == drawn:
        raise PreventUpdate
    figure, footer, settled = render_panel(search, graph_id, db)
    if isinstance(figure, dict):
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

    @app.callback(
        Output({"type": SHARE_BODY, "chart": MATCH}, "children"),
        Input({"type": SHARE, "chart": MATCH}, "n_clicks"),
        State("url", "href"),
        State({"type": SHARE, "chart": MATCH}, "id"),
        prevent_initial_call=True,
    )
    def _share(_clicks, href, button_id):
        return share_fields(href, button_id, db.config.url_prefix)
