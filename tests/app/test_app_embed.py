"""/embed/<chart_id> through Flask's test client: every chart as a page, errors said in the frame, plotly.js local."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import quote

import plotly.io as pio
import pytest
from markupsafe import escape

from dashapp import plotlyjs
from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.figures import DARK_TINTS, DRIFT_TINTS
from dashapp.charts.themes import DARK_BG, DARK_PANEL
from tests.app.test_app_api import BAD_VALUES, CHART_IDS, PARAMS, WINDOW, window
from tests.fixtures import chart_args

FIGURE = re.compile(r'<script id="figure" type="application/json">(.*?)</script>', re.S)


def figure_of(text: str) -> dict:
    return json.loads(FIGURE.search(text).group(1))


def assert_page(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_answers_as_an_embed_page_with_its_figure_and_footer(shared_app, shared_client, chart_id):
    text = assert_page(shared_client.get(f"/embed/{chart_id}?{window(chart_id)}"), 200)
    spec = get_chart(chart_id)
    rendered = render(spec, chart_args(chart_id), shared_app.server.extensions["dashapp"].db)
    figure = figure_of(text)
    assert figure["data"] == json.loads(pio.to_json(rendered.figure))["data"]
    assert "height" not in figure["layout"] and figure["layout"]["autosize"] is True  # fills the frame
    assert f'<h1 class="embed-title">{escape(spec.title)}</h1>' in text
    assert escape(rendered.coverage) in text


def test_the_page_filters_of_other_charts_are_ignored_as_on_the_page(shared_client):
    """The share button's embed URL carries the whole page's query string."""
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}&feature=headline_words&run=x"), 200)
    assert figure_of(text)["data"]


@pytest.mark.parametrize(("chart_id", "param"), PARAMS, ids=[f"{c}-{p.name}" for c, p in PARAMS])
def test_a_bad_value_for_any_parameter_is_a_400_naming_it_in_the_frame(shared_client, chart_id, param):
    value = BAD_VALUES[param.kind]
    text = assert_page(shared_client.get(f"/embed/{chart_id}?{window(chart_id)}&{param.name}={quote(value)}"), 400)
    assert "Invalid parameter" in text
    assert f"<p>{param.name}: " in text
    assert value not in text or escape(value) == value  # reflected only escaped


@pytest.mark.parametrize(
    ("query", "param"), [("theme=blue", "theme"), (f"title={'x' * 201}", "title"), ("start=2024-13-01", "start")]
)
def test_the_embed_parameters_are_checked_too(shared_client, query, param):
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}&{query}"), 400)
    assert f"<p>{param}: " in text


def test_an_unknown_chart_is_a_404_in_the_frame(shared_client):
    text = assert_page(shared_client.get("/embed/ops.nope?theme=dark"), 404)
    assert "no chart named &#39;ops.nope&#39;" in text and '<body class="theme-dark">' in text
    assert assert_page(shared_client.get("/embed/ops/latency/x"), 404)
    text = assert_page(shared_client.get("/embed/%3Cscript%3Ealert(1)%3C%2Fscript%3E"), 404)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script" not in text


def test_dark_theme_applies_plotly_dark_on_the_portal_background_to_a_copy_of_the_figure(shared_app, shared_client):
    dark = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}&theme=dark"), 200)
    light = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}"), 200)
    assert '<body class="theme-dark">' in dark and '<body class="theme-light">' in light
    template = figure_of(dark)["layout"]["template"]["layout"]
    assert template["paper_bgcolor"] == template["plot_bgcolor"] == DARK_BG
    assert template["font"] == pio.templates["plotly_dark"].layout.font.to_plotly_json()
    assert figure_of(light)["layout"]["template"]["layout"]["paper_bgcolor"] == "white"
    # The cached figure the page panels and the API share keeps its own template and height.
    db = shared_app.server.extensions["dashapp"].db
    cached = render(get_chart("ops.latency"), chart_args("ops.latency"), db).figure["layout"]
    assert cached["template"]["layout"]["paper_bgcolor"] == "white" and cached["height"] == 340


def test_dark_theme_swaps_the_light_status_tints_of_tables_for_dark_ones(shared_client):
    query = f"/embed/quality.contract?{WINDOW}"
    light = [t for t in figure_of(shared_client.get(query).get_data(as_text=True))["data"] if t["type"] == "table"]
    dark = figure_of(shared_client.get(f"{query}&theme=dark").get_data(as_text=True))["data"]
    assert light and [t["type"] for t in dark] == ["table"]
    light_fills, dark_fills = ({c for col in t["cells"]["fill"]["color"] for c in col} for t in (light[0], dark[0]))
    tints, dark_tints = set(DRIFT_TINTS.values()), set(DARK_TINTS.values())
    assert light_fills & tints and not dark_fills & tints  # every light tint swapped ...
    assert dark_fills & dark_tints  # ... for its dark one
    assert dark[0]["header"]["fill"]["color"] == DARK_PANEL
    assert "color" not in dark[0]["cells"].get("font", {})  # the dark template's light text, readable on them


def test_a_title_override_is_plain_escaped_text_and_an_empty_one_hides_the_title(shared_client):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}&title={quote(hostile)}"), 200)
    assert f'<h1 class="embed-title">{escape(hostile)}</h1>' in text
    assert "<img" not in text and text.count("<script") == 3  # the figure, plotly.js and embed.js
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}&title="), 200)
    assert "embed-title" not in text


def test_the_figure_json_cannot_close_its_script_element(shared_client):
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}"), 200)
    raw = FIGURE.search(text).group(1)
    assert "<" not in raw and "\\u003c" in raw  # the alert bands' hover text holds <br>


def test_plotly_js_is_the_strict_build_served_by_the_app_with_a_long_cache(shared_client):
    text = assert_page(shared_client.get(f"/embed/ops.latency?{WINDOW}"), 200)
    sources = re.findall(r'(?:src|href)="([^"]+)"', text)
    # Nothing from another host, no CDN; an empty icon, so the browser asks for no /favicon.ico.
    assert sources and all(s.startswith("/embed/") or s == "data:," for s in sources)
    version = plotlyjs.VERSION
    assert f"/embed/plotly-{version}.min.js" in sources
    response = shared_client.get(f"/embed/plotly-{version}.min.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert response.data == plotlyjs.PATH.read_bytes()
    assert response.data.startswith(b"/**\n* plotly.js (strict - minified) v" + version.encode())
    assert shared_client.get("/embed/plotly-0.0.1.min.js").status_code == 404
    assert shared_client.get("/embed/static/embed.js").status_code == 200


def test_a_missing_table_shows_the_empty_state_in_the_frame(client, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    text = assert_page(client.get(f"/embed/ops.pipeline_runs?{WINDOW}"), 200)
    assert "pipeline_runs.parquet" in text and "started_at (timestamp)" in text
    assert 'id="figure"' not in text


def test_an_unexpected_error_is_a_500_with_an_error_id_only(client, monkeypatch):
    def boom(db, params):
        raise RuntimeError("secret detail")

    monkeypatch.setitem(REGISTRY, "ops.latency", replace(REGISTRY["ops.latency"], data=boom))
    text = assert_page(client.get(f"/embed/ops.latency?{WINDOW}"), 500)
    assert re.search(r"logged with id [0-9a-f]{12}", text)
    assert "secret detail" not in text and "RuntimeError" not in text
