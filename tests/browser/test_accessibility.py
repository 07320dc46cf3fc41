"""Accessibility: axe-core audits every page, once each panel is drawn, and an embed; serious or critical fails.

axe-core comes from npm (package.json, `make axe`); the portal's CSP refuses injected scripts, so the audited
pages open in a context that bypasses it, for the audit only.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dashapp.charts import get_chart
from dashapp.pages import PAGES
from tests.browser.conftest import recording_page
from tests.browser.panels import chart_ids, wait_for_panels
from tests.browser.server import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
EMBED = "/embed/ops.latency?start=now-30d"


@pytest.fixture
def audited(browser, request):
    """A page into which axe-core can be injected: `audited(path)` opens it, `audited.violations()` audits it."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `make axe` (or `make test`) installs it with npm")
    with recording_page(browser, request.node.name, bypass_csp=True) as page:
        yield page


def violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per offending node."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['impact']} {v['id']}: {v['help']} -- {' '.join(map(str, node['target']))}"
        for v in results
        if v["impact"] in FAILING_IMPACTS
        for node in v["nodes"]
    ]


AUDITED_PAGES = [page.path for page in PAGES]


@pytest.mark.parametrize("path", AUDITED_PAGES)
def test_every_page_has_no_serious_accessibility_violations_once_drawn(server, audited, path):
    audited.goto(server.url + path)
    wait_for_panels(audited, path)
    found = violations(audited)
    assert found == [], "\n".join(found)
    for chart_id in chart_ids(path):
        # Each chart is a figure named by its title and summary, with its data a link away; a table's grid is
        # named by its title, and screen readers read its cells.
        title = get_chart(chart_id).title
        card = audited.locator(f"[data-chart='{chart_id}']")
        expect(card).to_have_role("figure")
        if get_chart(chart_id).table:
            expect(card).to_have_accessible_name(title)
            expect(card.get_by_role("grid")).to_have_count(1)
            continue
        expect(card).to_have_accessible_name(re.compile(rf"^{re.escape(title)} \S.*\.$"))
        csv = card.get_by_role("link", name=f"CSV data of {title}", exact=True)
        expect(csv).to_have_attribute("href", re.compile(rf"/api/charts/{re.escape(chart_id)}\?format=csv"))


def test_an_embedded_chart_has_no_serious_accessibility_violations(server, audited):
    audited.goto(server.url + EMBED)
    expect(audited.locator("#chart .main-svg").first).to_be_attached()
    expect(audited.locator("#chart")).to_have_role("figure")
    expect(audited.locator("#chart")).to_have_accessible_name(
        re.compile(r"^Latency p50 / p95 / p99 by model version\. Line")
    )
    found = violations(audited)
    assert found == [], "\n".join(found)


def test_tab_and_shift_tab_reach_each_dropdown_of_the_filter_bar(server, page):
    """assets/a11y.js moves Tab from a dropdown's hidden focus proxy onto its button: both directions still work."""
    page.goto(server.url + "/")
    expect(page.locator("button#filter-symbol")).to_have_attribute("tabindex", "0")
    page.focus("#filter-dates-end-date")
    order = []
    for key in ("Tab", "Tab", "Shift+Tab", "Shift+Tab"):
        page.keyboard.press(key)
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["filter-symbol", "filter-model-version", "filter-symbol", "filter-dates-end-date"]
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens the symbols dropdown from the keyboard
    expect(page.locator(".dash-dropdown-option").first).to_be_visible()
