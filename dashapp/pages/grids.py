"""Table panels as AG Grid grids: sortable, filterable, resizable, keyboard-navigable, exportable as CSV.

A table chart (ChartSpec.table) is still drawn by its figure builder as a plotly table, cached with its data:
embeds and the API keep serving that figure. A page turns the same rendered figure into a grid here, so a
grid shows exactly what the table shows, from the same cache entry, with no second query.

Sorting. A table's cells are text formatted for people ("12.30%", "1,234 / 5,678", "—"), which sorts wrongly
as text. A column given raw values (table_figure's `raw=`, carried in the trace's meta) keeps them as the
grid's field, so sorting and filtering use the numbers and dates, and shows its text through a
valueFormatter that reads a second field (`<field>_text`). A formatter over the raw value alone would repeat
every chart's formatting in JavaScript; a comparator over the text would parse it back. Dates and times are
ISO text, which sorts as time does. The CSV export writes what the grid shows (AG Grid exports through the
valueFormatter), in the grid's current order and filter.

Rich cells. Some tables bold a word, break a line or link to a page with plotly's small HTML subset; those
cells become lines of plain parts that the PortalRichText renderer (assets/grids.js) draws as React elements,
so no cell's text is ever parsed as HTML in the browser. Their field is the plain text, to sort, filter and
export by.

Tints. A row's fill colour and its dark counterpart (charts/themes.py, as the plotly tables are themed) go on the
row as CSS variables; assets/grids.css shows one or the other by Bootstrap's mode (`[data-bs-theme=dark]`).
The grid's own colours follow Bootstrap's variables (GRID_THEME), so they switch with the page's theme too.

Content-Security-Policy. The theme is AG Grid's theming API (themeQuartz): it adds <style> elements, which the
portal's style-src already allows for plotly.js and Dash ('unsafe-inline' for styles only). Every function the
grid needs is dash-ag-grid's `{"function": ...}` form, which it evaluates with its own expression interpreter,
not eval: AG Grid's string expressions (new Function) are never used, so script-src needs nothing new.
"""

from __future__ import annotations

import html as htmlib
import re
from collections.abc import Sequence

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import MATCH, Dash, Input, Output, html
from dash.exceptions import PreventUpdate

from ..charts.figures import sort_values
from ..charts.registry import ChartSpec
from ..charts.themes import dark_color

GRID, GRID_CSV = "chart-grid", "chart-grid-csv"
# A grid panel's footer and drawn version. Not the graph panels' types (panels.STATUS, refresh.DRAWN): a
# pattern-matching callback runs for every panel that has any of its outputs and fails on one lacking the rest,
# so the graph callback and the grid callback must not share an output type.
GRID_STATUS, GRID_DRAWN = "grid-status", "grid-drawn"
TOOLBAR_PX = 32  # the CSV button's row above the grid, out of the panel's height
# AG Grid's Quartz theme in Bootstrap's colours: CSS variables, so a dark page (data-bs-theme=dark) darkens it.
GRID_THEME = {
    "function": "themeQuartz.withParams({"
    "backgroundColor: 'var(--bs-body-bg)', foregroundColor: 'var(--bs-body-color)',"
    " headerBackgroundColor: 'var(--bs-tertiary-bg)', borderColor: 'var(--bs-border-color)',"
    " accentColor: 'var(--bs-primary)', chromeBackgroundColor: 'var(--bs-tertiary-bg)',"
    " fontFamily: 'inherit', fontSize: 13, headerFontSize: 13, spacing: 6, wrapperBorderRadius: 4})"
}
# Columns share the panel's width in proportion to their longest value (flex; a plotly table's relative widths
# assume text that wraps). A column is never narrower than its header's longest word or its values' longest word
# (up to SHORT_CHARS: a date, a count), so those are never cut; text with spaces wraps, and a long word cut short
# shows whole in a tooltip. Below the columns' least widths the grid scrolls sideways.
DEFAULT_COLUMN = {
    "sortable": True,
    "resizable": True,
    "filter": True,
    "wrapHeaderText": True,
    "autoHeaderHeight": True,
    "tooltipValueGetter": {"function": "params.valueFormatted != null ? params.valueFormatted : params.value"},
}
# At the grid's 13 px font, about 8 px a digit; a header also holds the filter button.
CHAR_PX, CELL_PAD_PX, HEADER_PAD_PX, NARROWEST_PX, WIDEST_PX, SHORT_CHARS = 8, 36, 48, 56, 200, 14
FLEX_RANGE = (4, 48)  # characters: a one-digit column still fits its header, prose does not crowd out the rest
HEADER_BREAKS = re.compile(r"[\s\-/·]+")
GRID_OPTIONS = {
    "theme": GRID_THEME,
    "animateRows": False,
    "enableCellTextSelection": True,  # copy a value as in the plotly table
    "ensureDomOrder": True,  # rows in the DOM in their visual order: screen readers and selection read them so
    # Every column's header and cells in the DOM, scrolled into view or not, for screen readers.
    "suppressColumnVirtualisation": True,
    # AG Grid skips laying out a grid below the fold (content-visibility: auto) and keeps its cells hidden
    # (visibility: hidden) until its flex columns are sized, which waits for that layout: screen readers, a
    # full-page screenshot and anyone not scrolling saw an empty grid. The portal's grids are a few dozen rows.
    "suppressContentVisibilityAuto": True,
    "suppressDragLeaveHidesColumns": True,
    "tooltipShowDelay": 300,
    "tooltipShowMode": "whenTruncated",
    # A row's tint (row_tints) and its dark counterpart as CSS variables: assets/grids.css picks one by the page's
    # theme, so the colours have one home (charts/figures.py, charts/themes.py), not a copy in the CSS.
    "getRowClass": {"function": "params.data && params.data.tint ? 'grid-tint' : ''"},
    "getRowStyle": {
        "function": "params.data && params.data.tint"
        " ? {'--grid-tint': params.data.tint, '--grid-tint-dark': params.data.tint_dark} : undefined"
    },
}
EMPTY_COLUMN = {"field": "none", "headerName": "No rows", "flex": 1, "sortable": False, "filter": False}
# Plotly's text subset as the tables use it: <br>, <b>, a muted <span style=...> and <a href=...>.
TAG = re.compile(r"<(/?)(br|b|span|a)\b([^>]*)>", re.IGNORECASE)
HREF = re.compile(r"""href\s*=\s*(['"])(.*?)\1""", re.IGNORECASE)


def grid_panel(spec: ChartSpec) -> html.Div:
    """A table chart's grid, empty until the panel callback fills it, under a CSV button."""
    grid_id = {"type": GRID, "chart": spec.id}
    toolbar = html.Div(
        dbc.Button(
            "CSV",
            id={"type": GRID_CSV, "chart": spec.id},
            color="secondary",
            outline=True,
            size="sm",
            className="py-0 grid-csv",
            title=f"Download the rows as shown, as {spec.id}.csv",
        ),
        className="d-flex justify-content-end mb-1",
    )
    grid = dag.AgGrid(
        id=grid_id,
        rowData=[],
        columnDefs=[],
        defaultColDef=DEFAULT_COLUMN,
        dashGridOptions=GRID_OPTIONS | {"localeText": {"noRowsToShow": "Loading…"}},
        csvExportParams={"fileName": f"{spec.id}.csv"},
        className="portal-grid",
        style={"minHeight": f"{spec.height - TOOLBAR_PX}px", "width": "100%"},  # grows with its row (grids.css),
    )
    return html.Div([toolbar, grid], className="grid-panel")


def grid_props(figure: dict) -> tuple[list[dict], list[dict], dict]:
    """(rowData, columnDefs, dashGridOptions) for the rendered figure of a table chart.

    A figure with no table (the chart's empty state, or a panel's error) gives no rows, and its message as
    the grid's no-rows text.
    """
    table = next((t for t in figure.get("data") or () if t.get("type") == "table"), None)
    if table is None:
        # One column, though it has no rows: a grid without columns has a header row without headers, which
        # screen readers cannot read.
        return [], [EMPTY_COLUMN], GRID_OPTIONS | {"localeText": {"noRowsToShow": figure_message(figure)}}
    headers = [plain(str(h)) for h in (table.get("header") or {}).get("values") or ()]
    columns = [list(values) for values in (table.get("cells") or {}).get("values") or ()]
    raw = ((table.get("meta") or {}).get("raw")) or {}
    count = max((len(c) for c in columns), default=0)
    rows: list[dict] = [{} for _ in range(count)]
    column_defs = []
    for i, header in enumerate(headers):
        cells = sort_values(columns[i]) if i < len(columns) else [None] * count
        cells += [None] * (count - len(cells))
        column = column_def(f"c{i}", header, cells, raw.get(str(i)), rows)
        column_defs.append(column)
    for row, tint in zip(rows, row_tints(table, count), strict=True):
        if tint:
            row["tint"], row["tint_dark"] = tint, dark_color(tint)
    return rows, column_defs, GRID_OPTIONS | {"localeText": {"noRowsToShow": "No rows"}}


def column_def(field: str, header: str, cells: list, raw: Sequence | None, rows: list[dict]) -> dict:
    """Fill `rows` with one column's fields and return its column definition."""
    column = {"field": field, "headerName": header, "headerTooltip": header}
    rich = [parts(c) if isinstance(c, str) and TAG.search(c) else None for c in cells]
    texts = [text_of(r) if r is not None else c for c, r in zip(cells, rich, strict=True)]
    if raw is not None:
        values = list(raw) + [None] * (len(cells) - len(raw))
        for row, value, text in zip(rows, values, texts, strict=True):
            row[field], row[f"{field}_text"] = value, "" if text is None else str(text)
        column["valueFormatter"] = {"function": f"params.data ? params.data.{field}_text : ''"}
    else:
        values = texts
        for row, value in zip(rows, values, strict=True):
            row[field] = value
    word = max(map(len, HEADER_BREAKS.split(header)), default=0)
    lines = [str(t) for t, r in zip(texts, rich, strict=True) if r is None and t is not None]
    lines += ["".join(part["text"] for part in line) for r in rich if r is not None for line in r]
    value_word = min(SHORT_CHARS, max((len(w) for line in lines for w in line.split()), default=0))
    least = max(CHAR_PX * word + HEADER_PAD_PX, CHAR_PX * value_word + CELL_PAD_PX)
    column["minWidth"] = max(NARROWEST_PX, min(WIDEST_PX, least))
    column["flex"] = min(FLEX_RANGE[1], max(FLEX_RANGE[0], word, *map(len, lines)))
    if any(" " in line and len(line) > SHORT_CHARS for line in lines):
        column |= {"wrapText": True, "autoHeight": True}
    numeric = any(_number(v) for v in values) and all(v is None or _number(v) for v in values)
    column["cellDataType"] = "number" if numeric else "text"
    column["filter"] = "agNumberColumnFilter" if numeric else "agTextColumnFilter"
    if any(r is not None for r in rich):
        for row, lines in zip(rows, rich, strict=True):
            if lines is not None:
                row[f"{field}_rich"] = lines
        column |= {"cellRenderer": "PortalRichText", "wrapText": True, "autoHeight": True, "tooltipValueGetter": None}
    return column


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def row_tints(table: dict, count: int) -> list[str | None]:
    """Each row's tint: its fill colour ('#rrggbb'), None for white or no fill."""
    fill = ((table.get("cells") or {}).get("fill") or {}).get("color")
    if isinstance(fill, list) and fill and isinstance(fill[0], list | tuple):
        fill = fill[0]  # one list per column, all alike: the row's colour
    colors = list(fill) if isinstance(fill, list | tuple) else [fill] * count
    colors += [None] * (count - len(colors))
    return [tint_name(c) for c in colors[:count]]


def tint_name(color) -> str | None:
    """'#F8D7DA' -> '#f8d7da'; white, no colour or anything but a hex colour -> None (nothing else reaches a style)."""
    if not isinstance(color, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", color) or color.lower() == "#ffffff":
        return None
    return color.lower()


def parts(text: str) -> list[list[dict]]:
    """Plotly's cell markup as lines of parts: {"text", and "bold", "muted" or a portal "href" when set}."""
    lines: list[list[dict]] = [[]]
    bold = muted = 0
    href = None
    position = 0
    for match in TAG.finditer(text):
        _add(lines[-1], text[position : match.start()], bold, muted, href)
        position = match.end()
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if name == "br":
            lines.append([])
        elif name == "b":
            bold = max(0, bold - 1) if closing else bold + 1
        elif name == "span":
            muted = max(0, muted - 1) if closing else muted + 1
        elif closing:
            href = None
        else:
            found = HREF.search(attributes)
            link = htmlib.unescape(found.group(2)) if found else ""
            href = link if link.startswith("/") and not link.startswith("//") else None  # portal paths only
    _add(lines[-1], text[position:], bold, muted, href)
    return [line for line in lines if line] or [[{"text": ""}]]


def _add(line: list[dict], text: str, bold: int, muted: int, href: str | None) -> None:
    if not text:
        return
    part = {"text": htmlib.unescape(text)}
    if bold:
        part["bold"] = True
    if muted:
        part["muted"] = True
    if href:
        part["href"] = href
    line.append(part)


def text_of(lines: list[list[dict]]) -> str:
    """A rich cell's plain text: its lines joined by spaces (a table wraps long text with <br>)."""
    return " ".join("".join(part["text"] for part in line) for line in lines)


def plain(text: str) -> str:
    return htmlib.unescape(TAG.sub(" ", text)).strip()


def figure_message(figure: dict) -> str:
    """The text an empty figure shows (empty_figure's annotation), or a generic one."""
    annotations = (figure.get("layout") or {}).get("annotations") or ()
    texts = [plain(str(a.get("text", ""))) for a in annotations if isinstance(a, dict)]
    return next((t for t in texts if t), "No rows")


def register_grid_callbacks(app: Dash) -> None:
    @app.callback(
        Output({"type": GRID, "chart": MATCH}, "exportDataAsCsv"),
        Input({"type": GRID_CSV, "chart": MATCH}, "n_clicks"),
        prevent_initial_call=True,
    )
    def _export(clicks):
        if not clicks:
            raise PreventUpdate
        return True  # dash-ag-grid exports (csvExportParams' file name) and resets the prop
