"""Table panels as grids in a real browser: numbers sort as numbers, filters keep only matching rows, the CSV is what
the grid shows, tints follow the page's theme, and none of it breaks the Content-Security-Policy."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect

from dashapp.charts.figures import DARK_TINTS, DRIFT_TINTS
from tests.browser.panels import grid, wait_for_panels

# The outliers table's columns (pages/grids.py names them c0, c1 ... in the figure's order).
TABLE, VALUES = "c0", "c2"
# Its rows in the grid's visual order (row-index), whatever order the DOM keeps them in.
COLUMN_TEXT = """([chart, column]) => Array.from(
    document.querySelectorAll(`[data-chart='${chart}'] .ag-center-cols-container .ag-row`))
  .sort((a, b) => Number(a.getAttribute("row-index")) - Number(b.getAttribute("row-index")))
  .map((row) => row.querySelector(`[col-id='${column}']`).innerText.trim())"""


def column_text(page, chart_id: str, column: str) -> list[str]:
    return page.evaluate(COLUMN_TEXT, [chart_id, column])


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_a_grid_sorts_numbers_as_numbers_filters_and_exports_what_it_shows(server, page):
    page.goto(server.url + "/quality")
    wait_for_panels(page, "/quality")
    outliers = grid(page, "quality.outliers")
    expect(outliers.locator(".ag-row").first).to_be_visible()
    shown = column_text(page, "quality.outliers", VALUES)
    assert len(shown) >= 5
    # Counts formatted with separators ("22,179", "240"): sorted as text they would not be in numeric order.
    assert sorted(shown) != sorted(shown, key=number)

    header = outliers.locator(f".ag-header-cell[col-id='{VALUES}'] .ag-header-cell-label")
    header.click()
    expect(outliers.locator(f".ag-header-cell[col-id='{VALUES}']")).to_have_attribute("aria-sort", "ascending")
    ascending = column_text(page, "quality.outliers", VALUES)
    assert ascending == sorted(shown, key=number)
    header.click()
    expect(outliers.locator(f".ag-header-cell[col-id='{VALUES}']")).to_have_attribute("aria-sort", "descending")
    assert column_text(page, "quality.outliers", VALUES) == sorted(shown, key=number, reverse=True)

    # Filter the Table column to one table: only its rows remain, still sorted.
    tables = column_text(page, "quality.outliers", TABLE)
    outliers.locator(f".ag-header-cell[col-id='{TABLE}'] .ag-header-cell-filter-button").click()
    page.locator(".ag-filter input[type='text']").first.fill("market")
    kept = tables.count("market")
    assert 0 < kept < len(tables)
    expect(outliers.locator(".ag-center-cols-container .ag-row")).to_have_count(kept)
    assert set(column_text(page, "quality.outliers", TABLE)) == {"market"}
    page.keyboard.press("Escape")
    filtered = {col: column_text(page, "quality.outliers", col) for col in ("c0", "c1", "c2", "c7")}

    # The CSV: the grid's headers, and its rows as shown, in the grid's order, after the filter.
    with page.expect_download() as download:
        page.locator("[data-chart='quality.outliers'] .grid-csv").click()
    assert download.value.suggested_filename == "quality.outliers.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0] == ["Table", "Column", "Values", "Q1 – Q3", "Fences", "Below", "Above", "Outside"]
    assert len(rows) == kept + 1
    assert [row[0] for row in rows[1:]] == filtered["c0"]
    assert [row[1] for row in rows[1:]] == filtered["c1"]
    assert [row[2] for row in rows[1:]] == filtered["c2"]  # "1,234" as shown, in descending order
    assert all(re.fullmatch(r"\d+\.\d\d%", row[7]) for row in rows[1:])
    assert page.console_errors == []
    assert page.csp_violations() == []


def rgb(color: str) -> str:
    """'#f7dfcc' as the browser's computed style writes it: 'rgb(247, 223, 204)'."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_drift_grid_sorts_psi_both_ways_keeps_tints_in_both_themes_and_moves_by_keyboard(server, page):
    page.goto(server.url + "/drift")
    wait_for_panels(page, "/drift")
    features = grid(page, "drift.features")
    expect(features.locator(".ag-row").first).to_be_visible()
    psi = "c4"
    values = [float(v) for v in column_text(page, "drift.features", psi) if v]
    label = features.locator(f".ag-header-cell[col-id='{psi}'] .ag-header-cell-label")
    label.click()
    assert [float(v) for v in column_text(page, "drift.features", psi) if v] == sorted(values)
    label.click()
    assert [float(v) for v in column_text(page, "drift.features", psi) if v] == sorted(values, reverse=True)

    # The status stays written in its column, and the row keeps its tint: light, then darker in dark mode.
    critical = features.locator(".ag-row.grid-tint", has=page.locator("[col-id='c2']", has_text="critical")).first
    expect(critical.locator("[col-id='c2']")).to_have_text("critical")
    expect(critical).to_have_css("background-color", rgb(DRIFT_TINTS["critical"]))
    page.evaluate("document.documentElement.setAttribute('data-bs-theme', 'dark')")
    expect(critical).to_have_css("background-color", rgb(DARK_TINTS["critical"]))
    # The grid's own colours follow Bootstrap's: its body takes the dark page's background.
    expect(features.locator(".ag-root-wrapper")).to_have_css("background-color", "rgb(33, 37, 41)")
    page.evaluate("document.documentElement.removeAttribute('data-bs-theme')")

    # AG Grid's keyboard navigation: a focused cell moves down with the arrow key.
    features.locator(".ag-row[row-index='0'] [col-id='c0']").click()
    page.keyboard.press("ArrowDown")
    expect(features.locator(".ag-row[row-index='1'] .ag-cell-focus")).to_have_count(1)
    assert page.console_errors == []
    assert page.csp_violations() == []
