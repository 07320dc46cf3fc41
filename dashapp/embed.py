"""/embed/<chart_id>: one chart alone on a page, for an iframe, with the same parameters as its page.

The page works offline: plotly.js is the portal's own (plotlyjs.py: the strict build, whose WebGL traces need no
'unsafe-eval'), the small script that draws the figure from static/embed.js (no inline script, so a strict CSP can
forbid them).
Errors answer as a message in the frame, never as JSON or a traceback.
"""

from __future__ import annotations

import hashlib
import html
import shlex
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, current_app, make_response, render_template, request, send_from_directory
from plotly.io.json import to_json_plotly

from . import export, plotlyjs
from .auth import Tokens, chart_url
from .charts import get_chart, render
from .charts.registry import chart_version, refresh_seconds
from .charts.summary import summarize
from .charts.themes import THEMES, for_frame, theme_param, title_param
from .errors import DataUnavailable, ErrorBody, error_body

blueprint = Blueprint(
    "embed", __name__, template_folder="templates", static_folder="static", static_url_path="/embed/static"
)
# The embed page's title line and footer around the chart, so an iframe of this much more than the
# chart's height shows the chart as tall as on its page.
CHROME_HEIGHT = 64
ONE_YEAR = 365 * 24 * 3600


@blueprint.get("/embed/plotly-<version>.min.js")
def plotly_js(version: str):
    """Serve the portal's plotly.js; the version in the URL lets browsers cache it for a year."""
    if version != plotlyjs.VERSION:
        return "", 404
    return send_from_directory(plotlyjs.PATH.parent, plotlyjs.PATH.name, max_age=ONE_YEAR, mimetype="text/javascript")


@blueprint.get("/embed/<path:chart_id>")
def embed(chart_id: str):
    """The chart's page for an iframe: `theme=light|dark`, `title=` (empty: no title line), `refresh=5s` ...

    Its ETag is the chart's data version (and the query string): with refresh=, embed.js asks again with
    If-None-Match every period and redraws in place only when the answer is not a 304.
    """
    spec = get_chart(chart_id)
    args = request.args.to_dict(flat=False)
    theme, title = theme_param(args), title_param(args, spec.title)
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
        figure = for_frame(rendered.figure, theme)
        # Escaping '<' keeps "</script>" or "<!--" in any label from ending the JSON's script element.
        label = f"{spec.title}. {summarize(rendered.figure)}"  # the chart's name for screen readers
        page = _page(footer, figure=to_json_plotly(figure).replace("<", "\\u003c"), label=label, **live)
    response = make_response(page)
    response.set_etag(etag)
    return response


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
        plotly_version=plotlyjs.VERSION,
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


# The chart's data and images the Share menu links to, in the API's format= names.
EXPORTS = ("csv", "png", "svg", "json")
SIGN_URL_EXPIRY = "7d"  # what the Share menu's `dashapp sign-url` commands ask for (sign-url's default)


def shared_pairs(query: str, chart_id: str, embed: bool) -> list[tuple[str, str]]:
    """The page query's pairs that a chart's links carry: the chart's own parameters, theme= and title=, and
    refresh= on the embed page. The page's other charts' parameters mean nothing to this chart, and the API
    (strict) would answer them 400; a blank value is its parameter's default, so it is left out."""
    keep = {param.name for param in get_chart(chart_id).params} | {"title"} | ({"refresh"} if embed else set())
    return [(name, v) for name, v in parse_qsl(query) if name in keep or (name == "theme" and v in THEMES)]


def export_pairs(pairs: list[tuple[str, str]], fmt: str, chart_height: int) -> list[tuple[str, str]]:
    """The API's pairs for one format; an image states its size (the API's default width, the chart's height)."""
    if fmt in export.FORMATS:
        return [*pairs, ("format", fmt), ("width", str(export.SIZES["width"][2])), ("height", str(chart_height))]
    return [*pairs, ("format", fmt)]


def share_links(
    href: str, chart_id: str, prefix: str, tokens: Tokens | None = None, expiry: timedelta | None = None
) -> dict[str, str]:
    """The page link, the chart's embed URL with the same filters, an iframe snippet for it, and the chart's data
    and images at the API (csv, png, svg, json). With `tokens`, every link but the page's is signed for `expiry`.

    `href` is the page's address in the browser; `prefix` the URL prefix the portal is served under.
    """
    page = urlsplit(href)
    base = f"{page.scheme}://{page.netloc}{prefix}"

    def link(pairs: list[tuple[str, str]], api: bool) -> str:
        return tokens.url(base, chart_id, pairs, expiry, api) if tokens else chart_url(base, chart_id, pairs, api)

    spec = get_chart(chart_id)
    embed_url = link(shared_pairs(page.query, chart_id, embed=True), api=False)
    height = spec.height + CHROME_HEIGHT
    snippet = f'<iframe src="{html.escape(embed_url)}" width="100%" height="{height}" frameborder="0"></iframe>'
    data = shared_pairs(page.query, chart_id, embed=False)
    exports = {fmt: link(export_pairs(data, fmt, spec.height), api=True) for fmt in EXPORTS}
    return {"page": href, "embed": embed_url, "iframe": snippet, **exports}


def sign_url_command(href: str, chart_id: str, fmt: str | None = None) -> str:
    """The `dashapp sign-url` command that prints this chart's embed link (or, with `fmt`, its API URL in that
    format) with the page's filters, for a portal where the browser may not sign links itself."""
    page = urlsplit(href)
    pairs = shared_pairs(page.query, chart_id, embed=fmt is None)
    if fmt is not None:
        pairs = export_pairs(pairs, fmt, get_chart(chart_id).height)
    words = ["dashapp", "sign-url", chart_id, *(w for pair in pairs for w in ("--param", "=".join(pair)))]
    words += ["--expires", SIGN_URL_EXPIRY, "--base", f"{page.scheme}://{page.netloc}"]
    return shlex.join([*words, "--api"] if fmt is not None else words)
