"""The shell through Flask's test client: each page's title, 404 for a path that is no page, and the first layout
laid out for the URL its Referer names (tests/browser/test_shell.py runs the same in Chromium)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from dashapp import create_app
from dashapp.pages import PAGES

PREFIX = "/monitoring/"


@pytest.fixture(scope="module")
def prefixed(shared_config):
    return create_app(replace(shared_config, url_prefix=PREFIX)).server.test_client()


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.get_data(as_text=True))[1]


def layout_for(client, page_url: str, prefix: str = "/") -> str:
    """The layout Dash's renderer gets when the page at `page_url` asks for it, as JSON text."""
    response = client.get(f"{prefix}_dash-layout", headers={"Referer": page_url})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_every_page_and_its_trailing_slash_form_answer_200_with_the_pages_title(shared_app):
    client = shared_app.server.test_client()
    for page in PAGES:
        for path in {page.path, page.path.rstrip("/") + "/"}:
            response = client.get(path)
            assert response.status_code == 200, path
            assert title(response) == f"{page.name} · dashapp"


@pytest.mark.parametrize("path", ["/nope", "/drift/extra", "/embed", "/apis"])
def test_a_path_that_is_no_page_answers_404_but_the_other_routes_are_untouched(shared_app, path):
    client = shared_app.server.test_client()
    response = client.get(path)
    assert response.status_code == 404
    assert title(response) == "Page not found · dashapp"
    untouched = (
        "/healthz",
        "/api/charts",
        "/_dash-layout",
        "/_dash-dependencies",
        "/assets/dashapp.css",
        "/favicon.ico",
    )
    for other in untouched:
        assert client.get(other).status_code == 200, other


def test_under_a_prefix_pages_have_their_titles_and_a_path_that_is_no_page_links_home(prefixed):
    assert title(prefixed.get(f"{PREFIX}drift/")) == "Drift · dashapp"
    response = prefixed.get(f"{PREFIX}nope")
    assert response.status_code == 404
    layout = json.loads(layout_for(prefixed, f"http://localhost{PREFIX}nope", PREFIX))
    assert "There is no page at " in json.dumps(layout) and '"/monitoring/nope"' in json.dumps(layout)
    home = _find(layout, "alert-link not-found-home", key="className")
    assert home["href"] == PREFIX  # the way home, under the prefix


def test_the_first_layout_is_the_requested_page_with_its_controls_set_from_the_url(shared_app):
    client = shared_app.server.test_client()
    layout = json.loads(layout_for(client, "http://localhost/drift?start=now-30d&feature=vix&symbol=AAPL"))
    text = json.dumps(layout)
    assert '"chart": "drift.features"' in text  # the page's panels, with no router callback
    url = _find(layout, "url")
    assert (url["pathname"], url["search"]) == ("/drift", "?start=now-30d&feature=vix&symbol=AAPL")
    assert _find(layout, "filter-range")["value"] == "30d"
    assert _find(layout, "filter-symbol")["value"] == ["AAPL"]
    assert _find(layout, {"name": "feature", "type": "page-param"})["value"] == "vix"
    assert _find(layout, "refresh-picker")["value"] == "off"


def test_without_a_referer_the_layout_is_the_bare_shell_for_the_router_to_fill(shared_app):
    layout = json.loads(shared_app.server.test_client().get("/_dash-layout").get_data(as_text=True))
    assert _find(layout, "page-content").get("children") is None
    assert "pathname" not in _find(layout, "url")  # dcc.Location reads the browser's and fires the router


def test_a_page_that_hides_the_filter_bar_has_it_hidden_from_the_first_layout(shared_app):
    layout = json.loads(layout_for(shared_app.server.test_client(), "http://localhost/backtests"))
    assert _find(layout, "filter-bar")["style"] == {"display": "none"}


def _find(node, component_id, key: str = "id"):
    """The props of the component with this id (or this value of another prop) in a layout's JSON, depth first."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get(key) == component_id:
            return props
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find(child, component_id, key)
        if found is not None:
            return found
    return None
