"""Finding a page's panels in Chromium, and waiting until each is drawn."""

from __future__ import annotations

from playwright.sync_api import expect

from dashapp.charts import REGISTRY


def chart_ids(path: str) -> list[str]:
    return [spec.id for spec in REGISTRY.values() if spec.page == path]


def drawing(page, chart_id: str):
    """A panel's drawing: the grid of a table chart (pages/grids.py), the plotly graph of any other."""
    return page.locator(
        f"[data-chart='{chart_id}'] " + (".ag-root-wrapper" if REGISTRY[chart_id].table else ".js-plotly-plot")
    )


def grid(page, chart_id: str):
    """A table chart's grid."""
    return page.locator(f"[data-chart='{chart_id}'] .portal-grid")


def footer(page, chart_id: str):
    return page.locator(f"[data-chart='{chart_id}'] .card-footer")


def wait_for_panels(page, path: str, text: str = "data through") -> None:
    for chart_id in chart_ids(path):
        expect(footer(page, chart_id)).to_contain_text(text)
