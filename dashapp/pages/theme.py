"""The portal's dark mode: a switch in the navbar, theme=dark in the URL, remembered by the browser.

The browser does the work (assets/theme.js): it sets Bootstrap 5.3's `data-bs-theme` on <html>, keeps the
switch and the URL in step and remembers the choice in localStorage. The panels read theme= from the URL like
any filter and draw their figures in it (charts/themes.py); navigation and share links carry the URL's query
string, so they carry the theme.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Dash, Input, Output, html

SWITCH = "theme-switch"
SCRIPT = "theme.js"


def theme_switch() -> html.Div:
    """The navbar's switch, labelled for screen readers and sighted users alike."""
    return html.Div(
        dbc.Switch(
            id=SWITCH,
            # "Dark" on screen, where the navbar has little room; "Dark mode" for screen readers.
            label=["Dark", html.Span(" mode", className="visually-hidden")],
            value=False,
            label_class_name="navbar-text small text-light",
            class_name="mb-0 d-flex align-items-center gap-2",
        ),
        className="d-flex align-items-center ms-3 flex-shrink-0",
        title="Switch between the light and the dark theme",
    )


def register_callbacks(app: Dash) -> None:
    # In the browser: a clientside function from an asset file, so no inline script needs a CSP hash.
    app.clientside_callback(
        ClientsideFunction(namespace="theme", function_name="sync"),
        Output("url", "search", allow_duplicate=True),
        Output(SWITCH, "value"),
        Input("url", "search"),
        Input(SWITCH, "value"),
        prevent_initial_call="initial_duplicate",
    )
    # The script in <head> as well as with Dash's other assets: the theme is set before the body is painted.
    tag = f'<script src="{app.get_asset_url(SCRIPT)}"></script>'
    if tag not in app.index_string:
        app.index_string = app.index_string.replace("{%css%}", "{%css%}\n" + tag, 1)
