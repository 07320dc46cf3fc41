"""The app shell: navigation, the global filter bar kept in the URL, and page routing.

The URL's query string is the single source of truth: the filter controls write it, the panels
read it, and the browser's back button or a pasted link set the controls from it.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from ..charts import REGISTRY
from ..charts.options import filter_options
from ..errors import DashappError
from ..subpath import ROOT, url
from ..timerange import parse_instant, utc_now
from . import PAGE_PARAM, PAGES, Page, first_load, navbar, page_for, query_args, refresh, theme, titles
from .labels import labelled

if TYPE_CHECKING:
    from ..db import Database

PRESETS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom",
}
logger = logging.getLogger(__name__)
DEFAULT_PRESET = "7d"
_PRESET_START = re.compile(r"^now-(\d+[hd])$")
FILTER_KEYS = ("start", "end", "symbol", "model_version")
# Every chart parameter's default, by name: a page control left at its default stays out of the URL.
PARAM_DEFAULTS = {p.name: p.default for spec in REGISTRY.values() for p in spec.params}
# Parameters that repeat in the URL (run=a&run=b): their page controls hold lists.
REPEATABLE = frozenset(p.name for spec in REGISTRY.values() for p in spec.params if p.multiple)


def layout(prefix: str) -> html.Div:
    """The shell around every page; `prefix` is the URL prefix the portal is served under.

    Laid out for the page the browser is loading (first_load.py): its content, the navigation and every
    control already set from its URL, so no callback has to set them before the panels draw.
    """
    loading = first_load.requested()
    try:
        filters, content = _first_view(loading, prefix)
    except Exception as exc:
        # The page could not be laid out just now (a busy or failing data layer): send the bare shell, whose
        # router lays the page out in a callback, with that callback's error handling.
        unexpected = not isinstance(exc, DashappError)
        logger.warning("%s not laid out on load (%s): the router will", loading.pathname, exc, exc_info=unexpected)
        loading, filters, content = first_load.Requested(), None, None
    search, page = loading.search, loading.page(prefix)
    known = loading.pathname is not None
    links = nav_links(loading.pathname, search, prefix) if known else []
    return html.Div(
        [
            dcc.Location(id="url", refresh=False, **loading.location()),
            titles.title_store(),
            navbar.navbar(prefix, links, refresh.refresh_picker(search), theme.theme_switch()),
            # The one main landmark: screen readers jump past the navigation to it.
            html.Main(
                dbc.Container(
                    [
                        refresh.refresh_notice(search),
                        filter_bar(filters, filter_styles(page) if known else ({}, {}, {})),
                        html.Div(content, id="page-content"),
                    ],
                    fluid=True,
                    className="pb-4",
                )
            ),
        ]
    )


def _first_view(loading: first_load.Requested, prefix: str) -> tuple[tuple | None, object]:
    """The filter controls' values and options (filter_bar), and the page content, for the URL being loaded."""
    search, page, db = loading.search, loading.page(prefix), first_load.database()
    filters = sync_filters(search, None, None, None, None, None, {}, "url", db)[1:8] if db else None
    if page is not None:
        return filters, page_content(page, query_args(search))
    if loading.known_path(prefix):
        return filters, titles.not_found(unquote(loading.pathname), prefix)
    return filters, None


def page_content(page: Page, args: dict[str, list[str]]) -> list:
    """The page laid out from the URL's args, under its heading for screen readers (the navbar's active link shows
    its name to everyone else)."""
    layout = page.layout({k: v if k in REPEATABLE else v[0] for k, v in args.items()})
    return [html.H1(page.name, className="visually-hidden"), *layout]


def filter_bar(values: tuple | None = None, styles: tuple = ({}, {}, {})) -> dbc.Card:
    """The global filters. `values`: (preset, start date, end date, symbols, version, symbol options, version
    options) as sync_filters reads them from the URL; `styles`: the bar's and the entity columns' (filter_styles)."""
    preset, start_date, end_date, symbols, version, symbol_options, version_options = values or (
        (DEFAULT_PRESET, None, None, None, None, [], [])
    )
    bar_style, symbol_style, version_style = styles
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(
                        _labelled(
                            "Time range",
                            dcc.Dropdown(
                                id="filter-range",
                                options=[{"label": v, "value": k} for k, v in PRESETS.items()],
                                value=preset,
                                clearable=False,
                            ),
                        ),
                        md=2,
                    ),
                    dbc.Col(
                        _labelled(
                            "From – to (UTC, inclusive)",
                            dcc.DatePickerRange(
                                id="filter-dates",
                                display_format="YYYY-MM-DD",
                                minimum_nights=0,
                                start_date=start_date,
                                end_date=end_date,
                            ),
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        _labelled(
                            "Symbols",
                            dcc.Dropdown(
                                id="filter-symbol",
                                options=symbol_options,
                                value=symbols,
                                multi=True,
                                placeholder="All symbols",
                            ),
                        ),
                        md=4,
                        id="filter-symbol-col",
                        style=symbol_style,
                    ),
                    dbc.Col(
                        _labelled(
                            "Model version",
                            dcc.Dropdown(
                                id="filter-model-version",
                                options=version_options,
                                value=version,
                                placeholder="All model versions",
                            ),
                        ),
                        md=3,
                        id="filter-version-col",
                        style=version_style,
                    ),
                ],
                className="g-2",
            ),
            className="py-2",
        ),
        id="filter-bar",
        style=bar_style,
        className="mb-3 shadow-sm",
    )


def _labelled(label: str, control) -> html.Div:
    return html.Div(labelled(label, control))


# -- URL <-> controls -------------------------------------------------------------------------


def controls_from_search(search: str | None) -> tuple:
    """Read the filter controls' values from a query string: (preset, start_date, end_date, symbols, version)."""
    args = query_args(search)
    start, end = _first(args, "start"), _first(args, "end")
    now = utc_now()
    match = _PRESET_START.match(start or "")
    if start is None and end in (None, "now"):
        preset = DEFAULT_PRESET
    elif match and end in (None, "now") and match.group(1) in PRESETS:
        preset = match.group(1)
    else:
        preset = "custom"
    try:
        start_at = parse_instant(start or f"now-{DEFAULT_PRESET}", now)
        end_at = parse_instant(end or "now", now)
        # The picker shows inclusive days; a window ending at midnight ends the day before.
        last_day = (end_at - timedelta(microseconds=1)).date()
        start_date, end_date = start_at.date().isoformat(), last_day.isoformat()
    except ValueError:
        start_date = end_date = None
    return preset, start_date, end_date, args.get("symbol", []), _first(args, "model_version")


def search_from_controls(
    search: str | None, preset, start_date, end_date, symbols, version, page_params: dict | None = None
) -> str:
    """Write the controls into the query string, keeping other pages' parameters already there.

    `page_params` are the current page's own controls (name -> value); an empty or default value
    drops it, so a link carries only what differs from the defaults.
    """
    page_params = page_params or {}
    drop = set(FILTER_KEYS) | set(page_params)
    args = {k: v for k, v in query_args(search).items() if k not in drop}
    for name, value in page_params.items():
        if name in REPEATABLE:
            if isinstance(value, list) and all(isinstance(v, str) and v for v in value) and value:
                args[name] = value
        elif isinstance(value, str) and value and value != PARAM_DEFAULTS.get(name):
            args[name] = [value]
    # Callback inputs are client-controlled: a value of the wrong shape is dropped, and the
    # panels validate what reaches the URL like any other query string.
    days = _dates(start_date, end_date)
    if preset == "custom" and days:
        args["start"] = [days[0].isoformat()]
        args["end"] = [(days[1] + timedelta(days=1)).isoformat()]
    elif preset in PRESETS and preset not in ("custom", DEFAULT_PRESET):
        args["start"] = [f"now-{preset}"]
    if isinstance(symbols, list) and all(isinstance(s, str) for s in symbols) and symbols:
        args["symbol"] = symbols
    if isinstance(version, str) and version:
        args["model_version"] = [version]
    query = urlencode(args, doseq=True)
    return f"?{query}" if query else ""


def _dates(start_date, end_date) -> tuple[date, date] | None:
    """Parse the picker's two dates (YYYY-MM-DD, maybe with a time part), or None."""
    try:
        return date.fromisoformat(str(start_date)[:10]), date.fromisoformat(str(end_date)[:10])
    except ValueError:
        return None


def _first(args: dict, key: str) -> str | None:
    values = args.get(key)
    return values[0] if values else None


def sync_filters(search, preset, start_date, end_date, symbols, version, page_params, triggered, db: Database):
    """Keep URL and controls in step.

    Returns (search, preset, start_date, end_date, symbols, version, symbol options, version options,
    page control values). Options are set together with values: a Dash 4 dropdown drops a value
    its options lack. `page_params` are the current page's own controls, name -> value.
    """
    if triggered in (None, "url"):
        controls = controls_from_search(search)
        symbol_options, version_options = filter_options(db)
        symbol_options = sorted(set(symbol_options) | set(controls[3]))
        version_options = sorted(set(version_options) | ({controls[4]} if controls[4] else set()))
        args = query_args(search)
        page_values = [args.get(name, []) if name in REPEATABLE else _first(args, name) for name in page_params]
        return (no_update, *controls, symbol_options, version_options, page_values)
    if triggered == "page-param":
        # A page control changed, not the filters: take them from the URL. The controls may not
        # show the URL's values yet when a deep link's page controls appear (a race on load).
        preset, start_date, end_date, symbols, version = controls_from_search(search)
    elif triggered == "filter-dates":
        preset = "custom"
    elif triggered == "filter-range" and preset != "custom":
        start_date = end_date = None
    new_search = search_from_controls(search, preset, start_date, end_date, symbols, version, page_params)
    _, start_date, end_date, _, _ = controls_from_search(new_search)
    # A page's controls fire this as they appear, together with its panels, which wait for it:
    # the URL is written even when unchanged, or the waiting panels would never load.
    unchanged = new_search == (search or "") and triggered != "page-param"
    return (
        no_update if unchanged else new_search,
        preset,
        start_date,
        end_date,
        no_update,
        no_update,
        no_update,
        no_update,
        [no_update] * len(page_params),
    )


def nav_links(pathname: str | None, search: str | None, prefix: str = ROOT) -> list:
    """One link per page that exists, under the URL prefix, carrying the current filters along."""
    current = page_for(pathname, prefix)
    return [
        dbc.NavItem(dbc.NavLink(page.name, href=url(prefix, page.path) + (search or ""), active=page is current))
        for page in PAGES
    ]


def filter_styles(page) -> tuple[dict, dict, dict]:
    """The filter bar's style and its symbol and version columns': hidden where the page has no use for them."""
    hidden = {"display": "none"}
    bar = hidden if page is not None and not page.global_filters else {}
    entities = hidden if page is not None and not page.entity_filters else {}
    return bar, entities, entities


def register_callbacks(app: Dash, db: Database) -> None:
    @app.callback(
        Output("url", "search"),
        Output("filter-range", "value"),
        Output("filter-dates", "start_date"),
        Output("filter-dates", "end_date"),
        Output("filter-symbol", "value"),
        Output("filter-model-version", "value"),
        Output("filter-symbol", "options"),
        Output("filter-model-version", "options"),
        Output({"type": PAGE_PARAM, "name": ALL}, "value"),
        Output(refresh.PICKER, "value"),
        Input("url", "search"),
        Input("filter-range", "value"),
        Input("filter-dates", "start_date"),
        Input("filter-dates", "end_date"),
        Input("filter-symbol", "value"),
        Input("filter-model-version", "value"),
        Input({"type": PAGE_PARAM, "name": ALL}, "value"),
        Input(refresh.PICKER, "value"),
        # The layout sets the controls from the URL (first_load.py): on load the panels need not wait for this.
        prevent_initial_call=True,
    )
    def _sync(search, preset, start_date, end_date, symbols, version, page_values, refresh_value):
        if ctx.triggered_id == refresh.PICKER:
            return (
                refresh.search_with_refresh(search, refresh_value),
                *[no_update] * 7,
                [no_update] * len(page_values),
                no_update,
            )
        names = [item["id"]["name"] for item in ctx.inputs_list[-2]]
        page_params = dict(zip(names, page_values, strict=True))
        triggered = "page-param" if isinstance(ctx.triggered_id, dict) else ctx.triggered_id
        synced = sync_filters(search, preset, start_date, end_date, symbols, version, page_params, triggered, db)
        return (*synced, refresh.refresh_state(search)[0] if triggered in (None, "url") else no_update)

    refresh.register_callbacks(app, db)
    theme.register_callbacks(app)

    prefix = db.config.url_prefix
    navbar.register_callbacks(app)
    titles.register_callbacks(app, prefix)

    @app.callback(
        Output("nav-links", "children"), Input("url", "pathname"), Input("url", "search"), prevent_initial_call=True
    )
    def _nav(pathname, search):
        return nav_links(pathname, search, prefix)

    @app.callback(
        Output("filter-bar", "style"),
        Output("filter-symbol-col", "style"),
        Output("filter-version-col", "style"),
        Input("url", "pathname"),
        prevent_initial_call=True,
    )
    def _filter_bar(pathname):
        return filter_styles(page_for(pathname, prefix))

    # Client-side navigation only: the first load's page comes with the layout.
    @app.callback(
        Output("page-content", "children"), Input("url", "pathname"), State("url", "search"), prevent_initial_call=True
    )
    def _route(pathname, search):
        page = page_for(pathname, prefix)
        if page is None:
            return titles.not_found(str(pathname), prefix)
        # Page controls start from the URL, so their first firing does not overwrite it.
        args = query_args(search)
        return page_content(page, args)
