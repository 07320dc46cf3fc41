"""Chart panels: a card per registered chart, filled by one pattern-matching callback.

Every panel on every page renders through `charts.render`, from the filters in the URL. A panel
whose table is missing or unreadable shows an empty state that names the file and the columns it
needs; the other panels keep working.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import parse_qs

import dash_bootstrap_components as dbc
from dash import MATCH, Dash, Input, Output, State, dcc, html

from ..charts import get_chart, render
from ..charts.figures import empty_figure
from ..db import Database
from ..errors import BadParameter, DataUnavailable, UnknownChart

log = logging.getLogger(__name__)

GRAPH, STATUS = "chart-graph", "chart-status"


def chart_card(chart_id: str) -> html.Div:
    """Lay out one chart: title, graph and a footer that says what data it covers."""
    spec = get_chart(chart_id)
    card = dbc.Card(
        [
            dbc.CardHeader(
                [
                    html.Span(spec.title, className="fw-semibold"),
                    html.Small(spec.description, className="text-muted ms-2"),
                ]
            ),
            dbc.CardBody(
                dcc.Loading(
                    dcc.Graph(
                        id={"type": GRAPH, "chart": chart_id},
                        figure=empty_figure("Loading…"),
                        config={"displaylogo": False, "responsive": True},
                        style={"height": f"{spec.height}px"},
                    ),
                    type="dot",
                    delay_show=400,
                ),
                className="p-1",
            ),
            dbc.CardFooter(html.Div(id={"type": STATUS, "chart": chart_id}), className="small text-muted py-1"),
        ],
        className="h-100 shadow-sm",
    )
    return html.Div(card, className="h-100 chart-card", **{"data-chart": chart_id})


def control_col(label: str, control, md: int) -> dbc.Col:
    """A page control with its small label above it, in a grid column `md` wide."""
    return dbc.Col([html.Label(label, className="form-label small text-muted mb-0 d-block"), control], md=md)


def controls_card(*rows: list) -> dbc.Card:
    """A page's own controls above its panels: one grid row per list of columns."""
    body = [
        dbc.Row(columns, className="g-2" + (" mb-2" if i < len(rows) - 1 else "")) for i, columns in enumerate(rows)
    ]
    return dbc.Card(dbc.CardBody(body, className="py-2"), className="mb-3 shadow-sm")


def update_chart(search: str | None, graph_id: dict, db: Database):
    """Render one panel from the URL's query string: (figure, footer)."""
    try:
        # Both inputs are client-controlled (anyone can POST a callback): forged shapes are no chart, no filters.
        spec = get_chart(str(graph_id.get("chart") if isinstance(graph_id, dict) else None))
        rendered = render(spec, parse_qs(search.lstrip("?") if isinstance(search, str) else ""), db)
    except BadParameter as exc:
        return empty_figure("Invalid filter"), dbc.Alert(exc.message, color="warning", className="mb-0 py-1")
    except DataUnavailable as exc:
        return empty_figure(f"{exc.table} unavailable"), empty_state(exc)
    except UnknownChart as exc:
        return empty_figure("Unknown chart"), exc.message
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("panel %s failed (error id %s)", graph_id, error_id)
        message = f"This panel failed; the error is logged with id {error_id}."
        return empty_figure("Panel failed"), dbc.Alert(message, color="danger", className="mb-0 py-1")
    notes = " · ".join(rendered.notes)
    return rendered.figure, " · ".join(part for part in (rendered.coverage, notes) if part)


def empty_state(exc: DataUnavailable) -> html.Div:
    """Explain a missing or unreadable table: which one, why, and what it must contain."""
    children = [html.Strong(f"{exc.table}: "), exc.reason]
    if exc.expected:
        children += [html.Br(), f"Expected columns: {exc.expected}."]
    return dbc.Alert(children, color="secondary", className="mb-0 py-1 empty-state")


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(
        Output({"type": GRAPH, "chart": MATCH}, "figure"),
        Output({"type": STATUS, "chart": MATCH}, "children"),
        Input("url", "search"),
        State({"type": GRAPH, "chart": MATCH}, "id"),
    )
    def _update_chart(search, graph_id):
        return update_chart(search, graph_id, db)
