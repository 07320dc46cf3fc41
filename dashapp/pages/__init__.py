"""Pages: each module declares one PAGE (path, name, order, layout); navigation lists only these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from ..subpath import ROOT, portal_path

# Pages' own controls (e.g. the Drift page's feature) have ids {"type": PAGE_PARAM, "name": <URL parameter>};
# the shell keeps their values in the URL with the global filters.
PAGE_PARAM = "page-param"


def query_args(search) -> dict[str, list[str]]:
    """The URL's query string as name -> values; anything but a string (a forged callback input) is no filters."""
    return parse_qs(search.lstrip("?")) if isinstance(search, str) else {}


@dataclass(frozen=True)
class Page:
    path: str
    name: str
    order: int
    layout: Callable[[dict], object]  # takes the URL's query parameters (first values; lists for repeatable ones)
    global_filters: bool = True  # False: the page has its own period and hides the global filter bar
    entity_filters: bool = True  # False: its charts ignore symbols and model version, so those filters hide


def _pages() -> list[Page]:
    from . import alerts, backtests, correlation, drift, operations, overview, quality, sentiment

    pages = (
        overview.PAGE,
        quality.PAGE,
        drift.PAGE,
        sentiment.PAGE,
        backtests.PAGE,
        correlation.PAGE,
        operations.PAGE,
        alerts.PAGE,
    )
    return sorted(pages, key=lambda p: p.order)


PAGES: list[Page] = _pages()


def page_for(pathname: str | None, prefix: str = ROOT) -> Page | None:
    """Find the page for the browser's path under the URL prefix ('/operations/' and '/operations' are one page)."""
    path = portal_path(prefix, pathname or prefix)
    path = path and (path.rstrip("/") or "/")
    return next((p for p in PAGES if p.path == path), None)
