"""/embed/<chart_id>: one chart alone on a page, for an iframe, with the same parameters as its page.

The page works offline: plotly.js comes from the installed plotly package, the small script that
draws the figure from static/embed.js (no inline script, so a strict CSP can forbid them).
Errors answer as a message in the frame, never as JSON or a traceback.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import plotly
import plotly.io as pio
from flask import Blueprint, current_app, make_response, render_template, request, send_from_directory
from plotly.io.json import to_json_plotly

from .charts import get_chart, render
from .charts.registry import chart_version, refresh_seconds
from .charts.summary import summarize
from .errors import BadParameter, DataUnavailable, ErrorBody, error_body
from .subpath import url

blueprint = Blueprint(
    "embed", __name__, template_folder="templates", static_folder="static", static_url_path="/embed/static"
)
THEMES = ("light", "dark")
MAX_TITLE = 200
# The embed page's title line and footer around the chart, so an iframe of this much more than the
# chart's height shows the chart as tall as on its page.
CHROME_HEIGHT = 64
DARK_TEXT = "#212529"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data"
ONE_YEAR = 365 * 24 * 3600


@blueprint.get("/embed/plotly-<version>.min.js")
def plotly_js(version: str):
    """Serve the installed plotly.js; the version in the URL lets browsers cache it for a year."""
    if version != plotly_version():
        return "", 404
    return send_from_directory(PLOTLY_JS, "plotly.min.js", max_age=ONE_YEAR, mimetype="text/javascript")


@blueprint.get("/embed/<path:chart_id>")
def embed(chart_id: str):
    """The chart's page for an iframe: `theme=light|dark`, `title=` (empty: no title line), `refresh=5s` ...

    Its ETag is the chart's data version (and the query string): with refresh=, embed.js asks again with
    If-None-Match every period and redraws in place only when the answer is not a 304.
    """
    spec = get_chart(chart_id)
    theme = _theme(request.args.get("theme", "light"))
    title = _title(request.args.get("title"), spec.title)
    args = request.args.to_dict(flat=False)
    refresh = refresh_seconds(args)
    db = current_app.extensions["dashapp"].db
    etag = hashlib.sha256(f"{chart_version(spec, args, db)}?{request.query_string.decode()}".encode()).hexdigest()[:20]
    if request.if_none_match.contains(etag):
        return "", 304  # nothing it draws from has moved: an idle refresh costs a file listing
    live = {"title": title, "theme": theme, "refresh": refresh, "etag": f'"{etag}"'}
    try:
        rendered = render(spec, args, db)
    except DataUnavailable as exc:  # the explanatory empty state, a page that auto-refresh keeps polling
        page = error_page(error_body(exc, request.path), **live)
    else:
        footer = " · ".join(part for part in (rendered.coverage, *rendered.notes) if part)
        figure = _for_frame(rendered.figure, theme)
        # Escaping '<' keeps "</script>" or "<!--" in any label from ending the JSON's script element.
        label = f"{spec.title}. {summarize(rendered.figure)}"  # the chart's name for screen readers
        page = _page(footer, figure=to_json_plotly(figure).replace("<", "\\u003c"), label=label, **live)
    response = make_response(page)
    response.set_etag(etag)
    return response


def _theme(raw: str) -> str:
    if raw not in THEMES:
        raise BadParameter("theme", f"must be one of {', '.join(THEMES)}, got {raw[:20]!r}")
    return raw


def _title(raw: str | None, default: str) -> str:
    if raw is None:
        return default
    if len(raw) > MAX_TITLE:
        raise BadParameter("title", f"may be at most {MAX_TITLE} characters, got {len(raw)}")
    return raw.strip()


def _for_frame(figure: dict, theme: str) -> dict:
    """Copy the (cached, shared) figure to fill its container, in the theme's template."""
    layout = {k: v for k, v in figure["layout"].items() if k not in ("height", "width")}
    layout["autosize"] = True
    if theme == "dark":
        layout["template"] = dark_template()
        return {**figure, "data": [_dark_text_on_tints(trace) for trace in figure["data"]], "layout": layout}
    return {**figure, "layout": layout}


def _dark_text_on_tints(trace: dict) -> dict:
    """Keep a table's text dark where it has its own light fills (status tints), which the dark theme keeps."""
    if trace.get("type") != "table":
        return trace
    parts = {}
    for name in ("header", "cells"):
        part = trace.get(name, {})
        if part.get("fill", {}).get("color") is not None and part.get("font", {}).get("color") is None:
            parts[name] = {**part, "font": {**part.get("font", {}), "color": DARK_TEXT}}
    return trace | parts


@cache
def dark_template() -> dict:
    return pio.templates["plotly_dark"].to_plotly_json()


@cache
def plotly_version() -> str:
    return plotly.offline.get_plotlyjs_version()


def _page(
    message: str,
    *,
    title: str = "",
    theme: str = "light",
    figure: str = "",
    label: str = "",
    detail: str = "",
    kind: str = "",
    refresh: int | None = None,
    etag: str = "",
):
    return render_template(
        "embed.html",
        title=title,
        theme=theme,
        figure=figure,
        label=label,
        message=message,
        detail=detail,
        kind=kind,
        refresh=refresh,
        etag=etag,
        plotly_version=plotly_version(),
    )


# The frame's heading per status of our own errors; the web framework's carry their status's name.
TITLES = {400: "Invalid parameter", 404: "Unknown chart"}


def error_page(body: ErrorBody, **live) -> str:
    """The frame for an error: a missing table's empty state, or the error under its heading (for an unexpected
    one, only the log's id). `live` are _page's title, theme and refresh settings."""
    if body.table is not None:
        detail = f"Expected columns: {body.expected_columns}." if body.expected_columns else ""
        return _page(body.error, detail=detail, kind="empty", **live)
    if body.error_id is not None:
        message, title = f"This chart failed; the error is logged with id {body.error_id}.", "Error"
    else:
        message, title = body.error, body.http_name or TITLES.get(body.status, "Chart unavailable")
    return _page(message, kind="error", **{**live, "title": title})


@blueprint.errorhandler(Exception)
def embed_error(exc: Exception):
    """Any error, said in the frame with its status (errors.error_body)."""
    body = error_body(exc, request.path)
    theme = request.args.get("theme") if request.args.get("theme") in THEMES else "light"
    return error_page(body, theme=theme), body.status


def share_links(href: str, chart_id: str, prefix: str) -> dict[str, str]:
    """The page link, the chart's embed URL with the same filters, and an iframe snippet for it.

    `href` is the page's address in the browser; `prefix` the URL prefix the portal is served under.
    """
    page = urlsplit(href)
    embed_url = f"{page.scheme}://{page.netloc}{url(prefix, '/embed/')}{chart_id}" + (
        f"?{page.query}" if page.query else ""
    )
    height = get_chart(chart_id).height + CHROME_HEIGHT
    snippet = f'<iframe src="{html.escape(embed_url)}" width="100%" height="{height}" frameborder="0"></iframe>'
    return {"page": href, "embed": embed_url, "iframe": snippet}
