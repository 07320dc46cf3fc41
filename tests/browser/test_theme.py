"""Dark mode in a real browser: the navbar switch, theme= in the URL, remembered across visits, figures themed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from dashapp.charts import get_chart
from dashapp.charts.themes import DARK_BG
from tests.browser.conftest import ARTIFACTS
from tests.browser.panels import chart_ids, footer
from tests.browser.test_pages import PAGES

DARK_RGB = "rgb({}, {}, {})".format(*(int(DARK_BG[i : i + 2], 16) for i in (1, 3, 5)))
WHITE_RGB = "rgb(255, 255, 255)"


def wait_for_panels(page, path: str) -> None:
    """Until every panel of the page is drawn; patient, since this module's pages are often the first to run
    their queries on a two-core machine shared with the other pytest worker."""
    for chart_id in chart_ids(path):
        expect(footer(page, chart_id)).to_contain_text("data through", timeout=120_000)


def paper(page, chart_id: str) -> str:
    """The drawn figure's paper colour, as the browser computes it."""
    svg = page.locator(f"[data-chart='{chart_id}'] .js-plotly-plot .main-svg").first
    return svg.evaluate("(el) => getComputedStyle(el).backgroundColor")


def theme_of(page) -> str | None:
    return page.evaluate("document.documentElement.getAttribute('data-bs-theme')")


def test_the_navbar_switch_themes_the_portal_and_the_theme_follows_links_reloads_and_visits(server, page):
    # Charts drawn by plotly: a table chart's panel is a grid, which has no paper.
    overview, operations = (next(c for c in chart_ids(path) if not get_chart(c).table) for path in ("/", "/operations"))
    page.goto(server.url + "/")
    wait_for_panels(page, "/")
    assert theme_of(page) == "light" and paper(page, overview) == WHITE_RGB
    switch = page.get_by_label("Dark mode")
    expect(switch).not_to_be_checked()

    switch.check()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    expect(page).to_have_url(re.compile(r"\?theme=dark$"))
    expect(page.locator(f"[data-chart='{overview}'] .js-plotly-plot .main-svg").first).to_have_css(
        "background-color", DARK_RGB
    )
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == DARK_RGB  # Bootstrap's own dark body, the figures' colour

    page.locator(".navbar .nav-link", has_text="Operations").click()  # a link carries the query string
    expect(page).to_have_url(re.compile(r"/operations\?theme=dark$"))
    wait_for_panels(page, "/operations")
    assert theme_of(page) == "dark" and paper(page, operations) == DARK_RGB
    expect(page.get_by_label("Dark mode")).to_be_checked()

    page.reload()
    wait_for_panels(page, "/operations")
    assert theme_of(page) == "dark" and paper(page, operations) == DARK_RGB

    # The same browser opens the portal without theme=: the remembered theme, written into the URL.
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/\?theme=dark$"))
    wait_for_panels(page, "/")
    assert theme_of(page) == "dark" and paper(page, overview) == DARK_RGB

    page.get_by_label("Dark mode").uncheck()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    expect(page).to_have_url(re.compile(r"/$"))  # light is the default: no theme= at all
    expect(page.locator(f"[data-chart='{overview}'] .js-plotly-plot .main-svg").first).to_have_css(
        "background-color", WHITE_RGB
    )
    page.goto(server.url + "/operations")
    wait_for_panels(page, "/operations")
    assert theme_of(page) == "light" and page.url.endswith("/operations")  # light is remembered too
    assert page.console_errors == []
    assert page.csp_violations() == []


def test_a_dark_link_is_dark_from_its_first_paint(server, page):
    """theme.js runs in <head>: the body is never painted light before the page turns dark."""
    page.goto(server.url + "/drift?theme=dark", wait_until="commit")
    page.wait_for_selector("body", state="attached")
    assert theme_of(page) == "dark"
    script = page.locator("head script[src*='theme.js']")
    expect(script).to_have_count(1)
    wait_for_panels(page, "/drift")
    assert page.console_errors == [] and page.csp_violations() == []


def test_every_page_draws_in_the_dark_theme_at_1440_px(server, page):
    """Screenshots of every dark page (tests/artifacts/theme-dark-<page>.png), for people to look at; the light
    pages are test_pages.py's, which visits each in the default theme."""
    for path in PAGES:
        page.goto(server.url + path + "?theme=dark")
        wait_for_panels(page, path)
        assert theme_of(page) == "dark"
        page.wait_for_timeout(300)  # plotly's last transitions
        name = path.strip("/") or "overview"
        page.screenshot(path=str(ARTIFACTS / f"theme-dark-{name}.png"), full_page=True)
    assert page.console_errors == []
    assert page.csp_violations() == []
