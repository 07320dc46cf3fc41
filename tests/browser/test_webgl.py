"""Long curves draw with WebGL (figures.curve) under the portal's CSP, on a page and in an embed.

plotly.js's default build compiles WebGL shaders with `new Function`, which the CSP (no 'unsafe-eval') refuses;
the strict build the portal serves (dashapp/plotlyjs.py) does not. Each test draws a real scattergl trace and
fails on any console error or CSP violation.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from playwright.sync_api import expect

from dashapp.charts.figures import BLUE, WEBGL_POINTS
from tests.browser.panels import drawing, footer
from tests.browser.server import fetch

CHART = "ops.cache_hit"  # one curve over every request: 5-minute buckets over six days of the demo are all full
QUERY = "start=now-6d"  # auto bucket: 5 minutes, 1,728 buckets (timerange.MAX_POINTS is 2,000)
TYPES = "el => el._fullData.map(trace => trace.type)"


@pytest.fixture(scope="module")
def long_curve(server) -> int:
    """The chart's curve on this window is long enough for WebGL: what the tests below rely on."""
    status, body = fetch(f"{server.url}/api/charts/{CHART}?{QUERY}")
    assert status == 200
    (trace,) = [t for t in json.loads(body)["figure"]["data"] if t.get("name") == "hit rate"]
    assert len(trace["x"]) > WEBGL_POINTS and trace["type"] == "scattergl"
    return len(trace["x"])


def drawn_in_blue(page, plot) -> bool:
    """Whether the plot area, as the screen shows it, holds the curve's blue (the WebGL canvas, not the SVG)."""
    image = Image.open(io.BytesIO(page.locator(plot).first.screenshot())).convert("RGB")
    wanted = [int(BLUE[i : i + 2], 16) for i in (1, 3, 5)]
    near = [p for p in image.get_flattened_data() if all(abs(a - b) < 40 for a, b in zip(p, wanted, strict=True))]
    return len(near) > 50


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_page_draws_a_long_curve_with_webgl_without_console_errors_or_csp_violations(server, page, long_curve, theme):
    page.goto(f"{server.url}/operations?{QUERY}&theme={theme}")
    expect(footer(page, CHART)).to_contain_text("data through")
    graph = drawing(page, CHART)
    expect(graph.locator(".gl-canvas-context")).to_have_count(1)
    assert "scattergl" in graph.evaluate(TYPES)
    assert graph.evaluate("el => el._fullData.find(t => t.name === 'hit rate')._length") == long_curve
    assert drawn_in_blue(page, f"[data-chart='{CHART}'] .nsewdrag")
    assert page.console_errors == []
    assert page.csp_violations() == []


def test_an_embed_draws_a_long_curve_with_webgl_without_console_errors_or_csp_violations(server, page, long_curve):
    page.goto(f"{server.url}/embed/{CHART}?{QUERY}")
    chart = page.locator("#chart")
    expect(chart.locator(".gl-canvas-context")).to_have_count(1)
    assert "scattergl" in chart.evaluate(TYPES)
    assert drawn_in_blue(page, "#chart .nsewdrag")
    assert page.console_errors == []
    assert page.csp_violations() == []
