"""The portal's one plotly.js: the vendored strict build, on the Dash pages and (test_app_embed.py) the embeds."""

from __future__ import annotations

import re
from dataclasses import replace

import plotly
from dash import dcc

from dashapp import create_app, plotlyjs

SCRIPTS = re.compile(r'<script src="([^"]+)"')


def test_the_vendored_strict_build_is_the_plotly_js_the_installed_plotly_writes_figures_for():
    assert plotlyjs.VERSION == plotly.offline.get_plotlyjs_version()
    head = plotlyjs.PATH.read_bytes()[:200].decode()
    assert head.startswith(f"/**\n* plotly.js (strict - minified) v{plotlyjs.VERSION}\n")
    assert (plotlyjs.PATH.parent / "LICENSE.plotly.js.txt").read_text().count("MIT License") == 1


def test_dash_pages_load_the_strict_build_from_the_portal_and_never_the_default_one(shared_client):
    page = shared_client.get("/operations").get_data(as_text=True)
    sources = SCRIPTS.findall(page)
    (strict,) = [s for s in sources if "plotly" in s]
    assert strict.startswith("/_dash-component-suites/dashapp/static/vendor/plotly-strict-")
    # A plain script, run before the inline one that starts the renderer: window.Plotly is set when a graph
    # loads, and dash-renderer's lazy load of the plotly package's plotly.min.js is never asked for.
    assert f'<script src="{strict}"></script>' in page
    assert page.index(strict) < page.index('id="_dash-renderer"')
    response = shared_client.get(strict)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "max-age=31536000" in response.headers["Cache-Control"]  # fingerprinted: cached for a year
    assert response.data == plotlyjs.PATH.read_bytes()
    # The plotly package's plotly.min.js, at the URL dash-renderer's lazy load uses, is not served.
    assert shared_client.get("/_dash-component-suites/plotly/package_data/plotly.min.js").status_code != 200


def test_building_apps_again_keeps_one_plotly_js_entry(shared_config, tmp_path):
    create_app(replace(shared_config, cache_dir=tmp_path))
    entries = [e for e in dcc._js_dist if "plotly" in str(e.get("relative_package_path", ""))]
    assert entries == [plotlyjs.DASH_ENTRY]
