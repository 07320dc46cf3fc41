"""The navbar: brand, page links, the refresh picker and the theme switch, collapsed behind a toggler below
768 px (phones).

The toggler opens and closes the links in the browser (a clientside callback, no round trip), and a
navigation closes them again so the page underneath shows.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, html

TOGGLER, COLLAPSE = "navbar-toggler", "navbar-collapse"


def navbar(prefix: str, links: list, *controls) -> dbc.Navbar:
    """The navbar with the page `links` (nav_links) and, at its end, the `controls` (the refresh picker, the
    theme switch)."""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("dashapp", href=prefix, className="fw-bold"),
                dbc.NavbarToggler(id=TOGGLER),  # labelled "Toggle navigation" by dash-bootstrap-components
                dbc.Collapse(
                    [
                        dbc.Nav(links, id="nav-links", navbar=True, className="me-auto"),
                        html.Span("sentiment model · RL agent monitoring", className="navbar-text small"),
                        *controls,
                    ],
                    id=COLLAPSE,
                    navbar=True,
                    is_open=False,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="md",
        className="mb-3",
    )


def register_callbacks(app: Dash) -> None:
    app.clientside_callback(
        """function (_clicks, _pathname, open) {
            return dash_clientside.callback_context.triggered_id === "navbar-toggler" ? !open : false;
        }""",
        Output(COLLAPSE, "is_open"),
        Input(TOGGLER, "n_clicks"),
        Input("url", "pathname"),
        State(COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
