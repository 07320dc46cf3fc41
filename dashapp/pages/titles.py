"""Each page's title, and the answer for a path that is no page.

The title is in the index page Dash sends for the path (so a tab, a bookmark and a link preview name the
page before any script runs) and follows client-side navigation through a clientside callback (no round
trip). Dash's index answers every path; here a path that is no page answers 404, with the shell saying so
and linking home.
"""

from __future__ import annotations

import json
import pkgutil
from functools import wraps
from html import escape

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from flask import Response, request

from ..subpath import url
from . import PAGES, Page, page_for

APP_TITLE = "dashapp"
NOT_FOUND = "Page not found"
TITLE_STORE = "page-title"
# Dash's index routes (routes_pathname_prefix is the root: subpath.mount moves the URL prefix aside).
INDEX_ENDPOINTS = ("/", "/<path:path>")


def page_title(page: Page | None) -> str:
    return f"{page.name if page is not None else NOT_FOUND} · {APP_TITLE}"


def not_found(pathname: str, prefix: str) -> dbc.Alert:
    """The page content for a path that is no page: what happened and the way home."""
    return dbc.Alert(
        [
            html.H1(NOT_FOUND, className="h4"),
            html.P(["There is no page at ", html.Code(pathname), "."], className="mb-2"),
            html.A("Go to the overview", href=url(prefix, "/"), className="alert-link not-found-home"),
        ],
        color="warning",
        className="not-found",
    )


def init_index(app: Dash) -> None:
    """Give Dash's index page its page's title, and answer 404 for a path that is no page."""
    server = app.server
    for endpoint in INDEX_ENDPOINTS:
        server.view_functions[endpoint] = _titled(server.view_functions[endpoint], app.title)
    # Browsers ask for /favicon.ico where a page names no icon (the embed page): Dash's icon, not a 404.
    server.add_url_rule("/favicon.ico", "favicon", _favicon)


def _favicon() -> Response:
    return Response(pkgutil.get_data("dash", "favicon.ico"), mimetype="image/x-icon")


def _titled(view, default_title: str):
    @wraps(view)
    def index(*args, **kwargs):
        page = page_for(request.path)  # the path after the URL prefix (subpath.mount)
        body = view(*args, **kwargs)
        body = body.replace(f"<title>{default_title}</title>", f"<title>{escape(page_title(page))}</title>", 1)
        return body, 200 if page is not None else 404

    return index


def title_store() -> dcc.Store:
    return dcc.Store(id=TITLE_STORE)


def register_callbacks(app: Dash, prefix: str) -> None:
    """document.title follows client-side navigation. The script is inline: init_headers hashes it for the CSP."""
    titles = {page.path: page_title(page) for page in PAGES}
    app.clientside_callback(
        f"""function (pathname) {{
            const titles = {json.dumps(titles)}, prefix = {json.dumps(prefix)};
            let path = pathname || prefix;
            path = path + "/" === prefix ? "/" : path.startsWith(prefix) ? "/" + path.slice(prefix.length) : null;
            path = path && (path.replace(/\\/+$/, "") || "/");
            document.title = titles[path] || {json.dumps(page_title(None))};
            return document.title;
        }}""",
        Output(TITLE_STORE, "data"),
        Input("url", "pathname"),
        prevent_initial_call=True,
    )
