"""The shell in a real browser: titles, the 404 page, the navbar on a phone, and a first load with no router trip."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, recording_page
from tests.browser.panels import chart_ids, wait_for_panels
from tests.browser.server import fetch
from tests.browser.test_pages import PAGES

PHONE = {"width": 390, "height": 844}


def callback_outputs(page) -> list[str]:
    """Record the outputs of every callback request the page sends (Dash's `output` field)."""
    outputs = []
    page.on(
        "request",
        lambda request: (
            "_dash-update-component" in request.url and outputs.append(json.loads(request.post_data)["output"])
        ),
    )
    return outputs


@pytest.mark.parametrize(("path", "name"), [("/drift", "Drift"), ("/drift/", "Drift"), ("/", "Overview")])
def test_the_first_response_names_the_page_in_its_title(server, path, name):
    status, body = fetch(server.url + path)
    assert status == 200
    assert re.findall(r"<title>(.*?)</title>", body) == [f"{name} · dashapp"]


def test_the_title_follows_client_side_navigation(server, page):
    page.goto(server.url + "/drift")
    expect(page).to_have_title("Drift · dashapp")
    page.locator(".navbar .nav-link", has_text="Operations").click()
    expect(page).to_have_url(re.compile(r"/operations$"))
    expect(page).to_have_title("Operations · dashapp")
    page.go_back()
    expect(page).to_have_title("Drift · dashapp")
    assert page.csp_violations() == []  # the title's clientside callback is an inline script the CSP hashes


def test_a_path_that_is_no_page_answers_404_with_a_link_home(server, page):
    status, body = fetch(server.url + "/no-such-page")
    assert status == 404 and "<title>Page not found · dashapp</title>" in body
    assert fetch(server.url + "/drift/nope")[0] == 404
    for other in ("/healthz", "/api/charts", "/embed/ops.latency", "/metrics"):
        assert fetch(server.url + other)[0] == 200, other
    response = page.goto(server.url + "/no-such-page?start=now-30d")
    assert response.status == 404
    expect(page.locator(".not-found")).to_contain_text("There is no page at /no-such-page")
    expect(page).to_have_title("Page not found · dashapp")
    page.locator(".not-found-home").click()
    expect(page).to_have_url(server.url + "/")
    expect(page.locator(".navbar .nav-link.active")).to_have_text("Overview")
    wait_for_panels(page, "/")
    # The browser reports the document's own 404 as a failed resource; nothing else may fail.
    assert [text for text in page.console_errors if "404" not in text] == []


def test_the_first_load_lays_out_the_page_from_its_url_without_a_router_or_filter_round_trip(server, page):
    outputs = callback_outputs(page)
    page.goto(server.url + "/drift?start=now-30d&feature=vix&reference=previous")
    wait_for_panels(page, "/drift")
    expect(page.locator("#filter-range")).to_contain_text("Last 30 days")
    expect(page.locator('[id=\'{"name":"feature","type":"page-param"}\']')).to_contain_text("vix")
    expect(page.get_by_label("previous window")).to_be_checked()
    expect(page.locator(".navbar .nav-link.active")).to_have_text("Drift")
    # The panels asked at once: no router (page-content) and no filter sync (url.search) before or beside them.
    assert [output for output in outputs if "page-content.children" in output or "url.search" in output] == []
    # Every panel in the first round: a chart's figure or a table's grid.
    drawn = [output for output in outputs if "chart-graph" in output or "chart-grid" in output]
    assert len(drawn) == len(chart_ids("/drift"))
    assert page.url.endswith("/drift?start=now-30d&feature=vix&reference=previous")  # nothing rewrote the URL
    assert page.console_errors == []


def test_without_a_referer_the_router_lays_out_the_page(server, page):
    """A browser told never to send a Referer gets the bare shell, which the router fills as before."""

    def without_referer(route):
        headers = {k: v for k, v in route.request.headers.items() if k.lower() != "referer"}
        route.fulfill(response=route.fetch(headers=headers))

    page.route("**/_dash-layout", without_referer)
    outputs = callback_outputs(page)
    page.goto(server.url + "/operations?start=now-30d")
    wait_for_panels(page, "/operations")
    expect(page.locator("#filter-range")).to_contain_text("Last 30 days")
    expect(page.locator(".navbar .nav-link.active")).to_have_text("Operations")
    assert "page-content.children" in outputs
    assert page.console_errors == []


def test_on_a_phone_the_navbar_collapses_behind_a_labelled_toggler(server, browser, request):
    with recording_page(browser, request.node.name, viewport=PHONE) as page:
        page.goto(server.url + "/operations")
        toggler = page.get_by_role("button", name="Toggle navigation")
        expect(toggler).to_be_visible()
        links = page.locator(".navbar .nav-link")
        expect(links.first).to_be_hidden()
        toggler.click()
        expect(links).to_have_text(list(PAGES.values()))
        expect(links.first).to_be_visible()
        expect(page.locator("#refresh-picker")).to_be_visible()
        links.filter(has_text="Drift").click()
        expect(page).to_have_url(re.compile(r"/drift$"))
        expect(links.first).to_be_hidden()  # a navigation closes the menu again
        wait_for_panels(page, "/drift")
        assert page.console_errors == []


@pytest.mark.parametrize("width", [390, 1440])
@pytest.mark.parametrize("path", ["/operations", "/drift"])
def test_pages_fit_the_screen_on_a_phone_and_a_desktop(server, browser, path, width):
    with recording_page(browser, f"shell-{path.strip('/')}-{width}", viewport={"width": width, "height": 900}) as page:
        page.goto(server.url + path)
        wait_for_panels(page, path)
        expect(page.get_by_role("button", name="Toggle navigation")).to_be_visible(visible=width < 768)
        # Nothing wider than the screen: the filter bar and the cards stack instead.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert page.console_errors == []
