"""Each chart card's Share menu: the page link, the embed link and its iframe snippet, and the chart's CSV, PNG,
SVG and JSON at the API, each with the page's filters, a copy button and, for the files, a download link.

With DASHAPP_EMBED_SECRET set, /embed and /api/charts answer only to signed links. A signed-in portal user
(DASHAPP_AUTH basic or header) gets them signed, for a lifetime picked in the menu; without portal
authentication nobody is known to sign for, so the menu gives the `dashapp sign-url` commands instead of links
that would answer 403. The links are built in embed.py and signed by auth.py's Tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dash_bootstrap_components as dbc
from dash import MATCH, Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from ..auth import Tokens, expires_at, parse_expiry
from ..charts import REGISTRY
from ..embed import EXPORTS, share_links, sign_url_command

if TYPE_CHECKING:
    from ..config import Config
    from ..db import Database

SHARE, SHARE_BODY, SHARE_LIFETIME, SHARE_LIFETIME_ROW = (
    "chart-share",
    "chart-share-body",
    "chart-share-lifetime",
    "chart-share-lifetime-row",
)
LINK_LABELS = {"page": "Page link with these filters", "embed": "Embed link", "iframe": "iframe snippet"}
EXPORT_LABELS = {"csv": "CSV data", "png": "PNG image", "svg": "SVG image", "json": "JSON figure"}
# The signed links' lifetimes offered (auth.parse_expiry reads them, within its maximum); the default is sign-url's.
LIFETIMES = {"1h": "1 hour", "1d": "1 day", "7d": "7 days", "30d": "30 days"}
DEFAULT_LIFETIME = "7d"


def share_button(chart_id: str) -> html.Div:
    """A small Share button and its menu; the share callback fills the menu when it opens or re-signs."""
    button_id = {"type": SHARE, "chart": chart_id}
    # The label wraps its select: a pattern-matching id is no element id a label's `for` could name.
    lifetime = html.Div(
        html.Label(
            [
                html.Span("Signed links last", className="small text-muted me-2"),
                dbc.Select(
                    id={"type": SHARE_LIFETIME, "chart": chart_id},
                    options=[{"label": label, "value": value} for value, label in LIFETIMES.items()],
                    value=DEFAULT_LIFETIME,
                    size="sm",
                    class_name="w-auto share-lifetime",
                    name="lifetime",
                ),
            ],
            className="d-flex align-items-center mb-0",
        ),
        id={"type": SHARE_LIFETIME_ROW, "chart": chart_id},
        hidden=True,
        className="mb-2",
    )
    return html.Div(
        [
            dbc.Button("Share", id=button_id, color="link", size="sm", className="p-0 share-button"),
            dbc.Popover(
                [
                    dbc.PopoverHeader("Share this chart"),
                    dbc.PopoverBody([lifetime, html.Div("…", id={"type": SHARE_BODY, "chart": chart_id})]),
                ],
                target=button_id,
                trigger="legacy",
                placement="bottom-end",
                className="share-popover",
            ),
        ],
        className="ms-auto ps-2 flex-shrink-0",
    )


def _dom_id(chart_id: str, name: str) -> str:
    """A field's element id, for its label (Dash refuses dots in ids; chart ids have them)."""
    return f"share-{chart_id.replace('.', '-')}-{name}"


def _copy_field(chart_id: str, name: str, label: str, value: str) -> html.Div:
    """A labelled read-only field with a copy button."""
    dom_id = _dom_id(chart_id, name)
    return html.Div(
        [
            html.Label(label, htmlFor=dom_id, className="form-label small text-muted mb-0"),
            dbc.InputGroup(
                [
                    dbc.Input(id=dom_id, value=value, readonly=True, name=name, className="share-field"),
                    dbc.InputGroupText(dcc.Clipboard(content=value, title=f"Copy {label}", className="share-copy")),
                ],
                size="sm",
            ),
        ],
        className="mb-2",
    )


def _export_field(chart_id: str, fmt: str, value: str) -> html.Div:
    """A chart's file at the API: its copyable URL and a download link."""
    label = EXPORT_LABELS[fmt]
    field = _copy_field(chart_id, fmt, label, value)
    download = html.A(
        "Download",
        href=value,
        download=f"{chart_id}.{fmt}",
        className="btn btn-outline-secondary share-download",
        title=f"Download the {label}",
        **{"data-format": fmt},
    )
    field.children[1].children.append(download)
    return field


def share_menu(href, button_id, config: Config, lifetime=DEFAULT_LIFETIME) -> tuple[list, bool]:
    """The menu's contents for the page at `href` (the browser's URL, filters included) and whether the lifetime
    picker stays hidden (it is shown only when the links are signed)."""
    chart_id = button_id.get("chart") if isinstance(button_id, dict) else None
    # Both come from the browser (anyone can POST a callback): no page URL or no such chart, nothing to share.
    if not (isinstance(href, str) and href.startswith(("http://", "https://")) and str(chart_id) in REGISTRY):
        raise PreventUpdate
    chart_id = str(chart_id)
    if config.embed_secret and config.auth == "none":
        return _sign_url_hint(href, chart_id), True
    signing = bool(config.embed_secret)  # and the callback's request passed the Gate: a signed-in user asked
    lifetime = lifetime if lifetime in LIFETIMES else DEFAULT_LIFETIME  # the browser's choice, or a forged one
    expiry = parse_expiry(lifetime)
    tokens = Tokens(config.embed_secret) if signing else None
    links = share_links(href, chart_id, config.url_prefix, tokens, expiry)
    fields = [_copy_field(chart_id, name, label, links[name]) for name, label in LINK_LABELS.items()]
    fields += [html.Hr(className="my-2"), *(_export_field(chart_id, fmt, links[fmt]) for fmt in EXPORTS)]
    if signing:  # under the lifetime picker, which sits just above this body
        until = f"{expires_at(expiry):%Y-%m-%d %H:%M} UTC"
        note = f"The embed, iframe and file links work without signing in until {until}."
        fields.insert(0, html.P(note, className="small text-muted mb-2 share-expiry"))
    return fields, not signing


def _sign_url_hint(href: str, chart_id: str) -> list:
    """With a secret but no portal users, the page link and the commands that sign this chart's links."""
    return [
        _copy_field(chart_id, "page", LINK_LABELS["page"], href),
        html.P(
            [
                "Embed and data links need a token here: run ",
                html.Code("dashapp sign-url"),
                " where DASHAPP_EMBED_SECRET is set.",
            ],
            className="small mb-2 share-hint",
        ),
        _copy_field(chart_id, "sign-embed", "Command for the embed link", sign_url_command(href, chart_id)),
        _copy_field(chart_id, "sign-csv", "Command for the CSV data link", sign_url_command(href, chart_id, "csv")),
    ]


def register_share_callback(app: Dash, db: Database) -> None:
    @app.callback(
        Output({"type": SHARE_BODY, "chart": MATCH}, "children"),
        Output({"type": SHARE_LIFETIME_ROW, "chart": MATCH}, "hidden"),
        Input({"type": SHARE, "chart": MATCH}, "n_clicks"),
        Input({"type": SHARE_LIFETIME, "chart": MATCH}, "value"),
        State("url", "href"),
        State({"type": SHARE, "chart": MATCH}, "id"),
        prevent_initial_call=True,
    )
    def _share(_clicks, lifetime, href, button_id):
        return share_menu(href, button_id, db.config, lifetime)
