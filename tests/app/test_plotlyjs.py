"""The portal's one plotly.js: the vendored strict build, on the Dash pages and (test_app_embed.py) the embeds."""

from __future__ import annotations

import re

import plotly

from dashapp import plotlyjs

SCRIPTS = re.compile(r'<script src="([^"]+)"')


def test_the_vendored_strict_build_is_the_plotly_js_the_installed_plotly_writes_figures_for():
    assert plotlyjs.VERSION == plotly.offline.get_plotlyjs_version()
    head = plotlyjs.PATH.read_bytes()[:200].decode()
    assert head.startswith(f"/**\n* plotly.js (strict - minified) v{plotlyjs.VERSION}\n")
    assert (plotlyjs.PATH.parent / "LICENSE.plotly.js.txt").read_text().count("MIT License") == 1


def test_dash_pages_load_the_strict_build_lazily_where_dash_renderer_asks_for_plotly_js(shared_client):
    page = shared_client.get("/operations").get_data(as_text=True)
    # Not in the index: dcc.Graph loads it when the first graph mounts, so it never holds back the renderer.
    assert [s for s in SCRIPTS.findall(page) if "plotly" in s.lower()] == []
    response = shared_client.get("/" + plotlyjs.DASH_URL)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.data == plotlyjs.PATH.read_bytes()  # the strict build, not the plotly package's file
    again = shared_client.get("/" + plotlyjs.DASH_URL, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
