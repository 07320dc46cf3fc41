"""A chart panel's text alternative: the figure named by its title and a one-sentence summary, and a visible link
to the data behind it as CSV (with the page's filters), for those who cannot see the chart or want the numbers."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import html

from ..charts import REGISTRY, get_chart
from ..charts.summary import summarize
from ..subpath import url
from . import query_args
from .labels import dom_id

TITLE, SUMMARY, CSV = "chart-title", "chart-summary", "chart-csv"


def figure_props(chart_id: str, summarized: bool = True) -> dict:
    """The card's props as a figure named by its title and its summary: data-chart, role, aria-labelledby.
    `summarized`: False for a table's grid, which needs no summary (screen readers read its cells)."""
    names = [dom_id({"type": TITLE, "chart": chart_id})]
    if summarized:
        names.append(dom_id({"type": SUMMARY, "chart": chart_id}))
    return {"data-chart": chart_id, "role": "figure", "aria-labelledby": " ".join(names)}


def summary(chart_id: str) -> html.Span:
    """The figure's one-sentence summary, unseen; the panel callback fills it as it draws the chart."""
    return html.Span(id={"type": SUMMARY, "chart": chart_id}, className="visually-hidden")


def title(chart_id: str, text: str) -> html.Span:
    """The card's title, which also names the figure."""
    return html.Span(text, id={"type": TITLE, "chart": chart_id}, className="fw-semibold")


def csv_link(chart_id: str) -> html.A:
    """The visible CSV link; the panel callback points it at the data with the page's filters (the layout does
    not know the URL prefix)."""
    return html.A(
        ["CSV", html.Span(f" data of {get_chart(chart_id).title}", className="visually-hidden")],
        id={"type": CSV, "chart": chart_id},
        className="csv-link ms-2 flex-shrink-0",
    )


def csv_url(chart_id: str, search: str | None, prefix: str = "/") -> str | None:
    """The API's CSV of the chart, with the chart's own parameters from the page's query string (the API refuses
    parameters a chart does not take, and the page's URL carries other charts' ones); None for no such chart."""
    spec = REGISTRY.get(chart_id)
    if spec is None:  # a forged callback's chart id
        return None
    names = {p.name for p in spec.params}
    args = [("format", "csv")] + [(k, v) for k, vs in query_args(search).items() if k in names for v in vs]
    return url(prefix, f"/api/charts/{chart_id}") + "?" + urlencode(args)


def text_alternative(figure, graph_id, search: str | None, prefix: str) -> tuple[str, str | None]:
    """The panel's (summary, CSV link) for the figure it draws."""
    chart_id = str(graph_id.get("chart") if isinstance(graph_id, dict) else None)
    return summarize(figure), csv_url(chart_id, search, prefix)
