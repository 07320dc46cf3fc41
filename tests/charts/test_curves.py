"""figures.curve: a curve of more than WEBGL_POINTS points draws with WebGL (scattergl), a shorter one as SVG."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from plotly.io.json import to_json_plotly

from dashapp.charts import REGISTRY, render
from dashapp.charts import figures as figures_module
from dashapp.charts.figures import WEBGL_POINTS, curve, svg_curves
from dashapp.charts.operations import cache_hit_figure
from dashapp.charts.summary import summarize
from dashapp.charts.themes import themed
from tests.fixtures import chart_args


def hit_rate(points: int) -> pd.DataFrame:
    bucket = pd.date_range("2024-03-01", periods=points, freq="1min")
    return pd.DataFrame({"bucket": bucket, "value": [0.9] * points})


@pytest.mark.parametrize(
    ("points", "kind"), [(1, "scatter"), (WEBGL_POINTS, "scatter"), (WEBGL_POINTS + 1, "scattergl")]
)
def test_a_curve_is_webgl_only_beyond_the_threshold(points, kind):
    trace = curve(x=list(range(points)), y=[0.0] * points, mode="lines", line={"width": 1.5}, name="p50")
    assert trace.type == kind
    assert (trace.name, trace.mode, trace.line.width) == ("p50", "lines", 1.5)


def test_a_long_time_series_draws_with_webgl_and_a_short_one_with_svg():
    params = {"start": pd.Timestamp("2024-03-01"), "end": pd.Timestamp("2024-03-03")}
    long, short = cache_hit_figure(hit_rate(1440), params), cache_hit_figure(hit_rate(96), params)
    assert [t.type for t in long.data] == ["scattergl"] and [t.type for t in short.data] == ["scatter"]
    # The same line to a reader, in the dark theme and as JSON.
    assert summarize(long) == summarize(short) == "Line chart of cache hit rate, 1 series: hit rate."
    dark = themed(long, "dark")
    assert dark["data"][0]["type"] == "scattergl" and "scattergl" in dark["layout"]["template"]["data"]
    assert json.loads(to_json_plotly(dark))["data"][0]["type"] == "scattergl"


# Stacked areas cannot be WebGL; every other chart with a curve over time takes figures.curve.
STACKED = {"ops.throughput", "ops.traffic_split", "overview.volume", "sentiment.labels"}


def test_every_chart_builds_its_curves_as_webgl_when_they_are_long(db, monkeypatch):
    """With the threshold at 0 every curve is 'long': each builder's traces must be valid scattergl."""
    monkeypatch.setattr(figures_module, "WEBGL_POINTS", 0)
    webgl = set()
    for chart_id, spec in sorted(REGISTRY.items()):
        figure = render(spec, chart_args(chart_id), db).figure
        figure = figure if isinstance(figure, dict) else figure.to_plotly_json()
        kinds = {trace.get("type") for trace in figure["data"]}
        if "scattergl" in kinds:
            webgl.add(chart_id)
            assert "scattergl" not in summarize(figure).lower()
            json.dumps(themed(figure, "dark"), default=str)
    assert {
        "ops.latency",
        "ops.error_rate",
        "ops.cache_hit",
        "backtest.cumulative",
        "sentiment.training_curves",
    } <= webgl
    assert not webgl & STACKED


def test_a_vector_image_draws_the_webgl_curves_as_svg_ones():
    params = {"start": pd.Timestamp("2024-03-01"), "end": pd.Timestamp("2024-03-03")}
    figure = themed(cache_hit_figure(hit_rate(1440), params), "dark")
    svg = svg_curves(figure)
    assert [t["type"] for t in svg["data"]] == ["scatter"] and figure["data"][0]["type"] == "scattergl"
    assert {k: v for k, v in svg["data"][0].items() if k != "type"} == {
        k: v for k, v in figure["data"][0].items() if k != "type"
    }
