"""PNG and SVG export through kaleido and the system's Chromium: valid images, bounded sizes, one browser."""

from __future__ import annotations

import os
import struct
import threading
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

from dashapp import create_app, export
from dashapp.charts import figures, get_chart
from dashapp.charts.themes import DARK_BG
from tests.app.test_app_api import assert_error, window

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
# A few charts of different kinds: a time series, a table, a heatmap; each image takes a few tenths of a second.
IMAGE_CHARTS = ["ops.latency", "quality.contract", "sentiment.confusion"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("chart_id", IMAGE_CHARTS)
def test_png_export_is_a_png_of_the_size_asked(shared_client, chart_id):
    response = shared_client.get(f"/api/charts/{chart_id}?format=png&width=640&height=300&{window(chart_id)}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert png_size(response.data) == (640, 300)


def test_png_export_defaults_to_the_charts_height_and_scales(shared_client):
    response = shared_client.get(f"/api/charts/ops.latency?format=png&image_scale=2&{window('ops.latency')}")
    assert png_size(response.data) == (2 * 1000, 2 * get_chart("ops.latency").height)


@pytest.mark.parametrize("chart_id", IMAGE_CHARTS)
def test_svg_export_parses_as_xml_with_an_svg_root(shared_client, chart_id):
    response = shared_client.get(f"/api/charts/{chart_id}?format=svg&width=800&{window(chart_id)}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "800"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("width=199", "width"),
        ("width=3001", "width"),
        ("width=abc", "width"),
        ("width=800&width=900", "width"),
        ("height=149", "height"),
        ("height=1e9", "height"),
        ("image_scale=0.1", "image_scale"),
        ("image_scale=nan", "image_scale"),
        ("image_scale=inf", "image_scale"),
    ],
)
def test_image_sizes_out_of_bounds_are_a_400_naming_them(shared_client, query, param):
    assert_error(shared_client.get(f"/api/charts/ops.latency?format=png&{query}&{window('ops.latency')}"), 400, param)


def test_a_bad_chart_parameter_is_a_400_before_any_drawing(shared_client):
    assert_error(shared_client.get("/api/charts/ops.latency?format=png&start=2024-13-01"), 400, "start")


def test_without_a_browser_an_image_is_a_501_saying_so(shared_config, tmp_path):
    config = replace(shared_config, cache_dir=tmp_path, browser_path=str(tmp_path / "no-chromium"))
    client = create_app(config).server.test_client()
    for fmt in ("png", "svg"):
        body = assert_error(client.get(f"/api/charts/ops.latency?format={fmt}&{window('ops.latency')}"), 501)
        assert "Chromium" in body["error"] and str(tmp_path) not in body["error"]
    assert client.get(f"/api/charts/ops.latency?format=json&{window('ops.latency')}").status_code == 200


def _browser_children() -> list[int]:
    """This process's child processes that are a Chromium (kaleido starts it directly)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == os.getpid() and b"chrom" in cmdline:
            found.append(int(status.parent.name))
    return found


def test_concurrent_image_requests_share_one_browser(shared_app):
    url = f"/api/charts/ops.throughput?format=png&width=400&height=200&{window('ops.throughput')}"
    statuses = []

    def fetch():
        statuses.append(shared_app.server.test_client().get(url).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert len(export._browsers) == 1
    assert len(_browser_children()) == 1


def test_a_drawing_that_takes_too_long_is_a_503_and_the_next_one_gets_a_new_browser(shared_client, monkeypatch):
    url = f"/api/charts/ops.latency?format=svg&{window('ops.latency')}"
    assert shared_client.get(url).status_code == 200
    monkeypatch.setattr(export, "DRAW_TIMEOUT", 0.001)
    assert "took over" in assert_error(shared_client.get(url), 503)["error"]
    assert export._browsers == {}
    monkeypatch.undo()
    assert shared_client.get(url).status_code == 200


def test_a_request_that_waits_too_long_for_the_renderer_is_a_503(shared_client, monkeypatch):
    monkeypatch.setattr(export, "WAIT_TIMEOUT", 0.01)
    with export._lock:
        body = assert_error(shared_client.get(f"/api/charts/ops.latency?format=png&{window('ops.latency')}"), 503)
    assert "busy" in body["error"]


def svg_text(data: bytes) -> str:
    return " ".join(ET.fromstring(data).itertext())


def test_an_image_carries_the_charts_title_by_default_a_given_one_or_none(shared_client):
    base = f"/api/charts/ops.latency?format=svg&{window('ops.latency')}"
    spec = get_chart("ops.latency")
    assert spec.title in svg_text(shared_client.get(base).data)
    given = svg_text(shared_client.get(f"{base}&title={quote('Latency <last week>')}").data)
    assert "Latency <last week>" in given and spec.title not in given
    assert spec.title not in svg_text(shared_client.get(f"{base}&title=").data)


def test_a_dark_image_is_drawn_on_the_dark_background_and_differs_from_the_light_one(shared_client):
    svg = f"/api/charts/ops.latency?format=svg&{window('ops.latency')}"
    dark, light = shared_client.get(f"{svg}&theme=dark").data.decode(), shared_client.get(svg).data.decode()
    paper = f"fill: {rgb(DARK_BG)}"  # kaleido writes the paper's rectangle as an rgb() fill
    assert paper in dark.replace("fill:rgb", "fill: rgb") and paper not in light.replace("fill:rgb", "fill: rgb")
    png = f"/api/charts/quality.contract?format=png&width=400&height=200&{window('quality.contract')}"
    dark_png, light_png = shared_client.get(f"{png}&theme=dark"), shared_client.get(png)
    assert dark_png.status_code == light_png.status_code == 200
    assert png_size(dark_png.data) == png_size(light_png.data) == (400, 200) and dark_png.data != light_png.data


@pytest.mark.parametrize(("query", "param"), [("theme=blue", "theme"), (f"title={'x' * 201}", "title")])
def test_a_bad_theme_or_title_is_a_400_naming_it(shared_client, query, param):
    assert_error(shared_client.get(f"/api/charts/ops.latency?format=png&{query}&{window('ops.latency')}"), 400, param)


def rgb(color: str) -> str:
    return "rgb({}, {}, {})".format(*(int(color[i : i + 2], 16) for i in (1, 3, 5)))


def test_an_svg_image_draws_long_curves_as_vectors_and_a_png_draws_them_too(client, monkeypatch):
    """Every curve is 'long' with the threshold at 0: the SVG holds its paths, not a WebGL bitmap."""
    monkeypatch.setattr(figures, "WEBGL_POINTS", 0)
    url = f"/api/charts/ops.cache_hit?{window('ops.cache_hit')}"
    assert "scattergl" in {t["type"] for t in client.get(url).get_json()["figure"]["data"]}
    svg = client.get(f"{url}&format=svg").data.decode()
    assert "<image" not in svg and 'class="scatterlayer' in svg and 'class="js-line"' in svg
    assert client.get(f"{url}&format=png").data.startswith(b"\x89PNG")
