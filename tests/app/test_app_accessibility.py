"""Text alternatives and labels, as plain functions: each chart's one-sentence summary and CSV link, and labels
tied to their controls (the browser's axe-core audit is tests/browser/test_accessibility.py)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import dash_bootstrap_components as dbc
import pytest
from dash import dcc

from dashapp.charts import REGISTRY, render
from dashapp.charts.figures import empty_figure
from dashapp.charts.summary import summarize
from dashapp.pages import PAGE_PARAM
from dashapp.pages.alternative import csv_url, figure_props, text_alternative
from dashapp.pages.labels import labelled
from dashapp.pages.panels import GRAPH

SEARCH = "?start=2024-03-01&end=2024-03-04&symbol=AAPL&feature=vix&refresh=30s"


@pytest.mark.parametrize("chart_id", sorted(REGISTRY))
def test_every_chart_is_summed_up_in_one_sentence(shared_db, chart_id):
    figure = render(REGISTRY[chart_id], {"start": ["2024-03-01"], "end": ["2024-03-04"]}, shared_db).figure
    sentence = summarize(figure)
    assert sentence.endswith(".") and "\n" not in sentence and 10 < len(sentence) < 600


def test_a_summary_names_the_kind_the_axes_and_the_series(shared_db):
    figure = render(REGISTRY["ops.latency"], {"start": ["2024-03-01"], "end": ["2024-03-04"]}, shared_db).figure
    assert summarize(figure).startswith("Line chart of latency (ms), 6 series: ")
    kpis = render(REGISTRY["overview.kpis"], {"start": ["2024-03-01"], "end": ["2024-03-04"]}, shared_db).figure
    assert summarize(kpis).startswith("Predictions: ")


def test_an_empty_chart_is_summed_up_by_its_reason():
    assert summarize(empty_figure("No requests in this window")) == "No requests in this window."


def test_the_csv_link_carries_only_the_charts_own_parameters_under_the_prefix():
    link = urlsplit(csv_url("ops.latency", SEARCH, "/monitoring/"))
    assert link.path == "/monitoring/api/charts/ops.latency"
    assert parse_qs(link.query) == {
        "format": ["csv"],
        "start": ["2024-03-01"],
        "end": ["2024-03-04"],
        "symbol": ["AAPL"],
    }
    assert "feature=vix" in csv_url("drift.distribution", SEARCH)


def test_a_forged_chart_id_gets_no_csv_link():
    assert csv_url("../../etc/passwd", SEARCH) is None
    assert text_alternative(empty_figure("Unknown chart"), "forged", ["not", "a", "string"], "/") == (
        "Unknown chart.",
        None,
    )


def test_the_csv_link_answers_with_the_charts_data(shared_client):
    response = shared_client.get(csv_url("ops.latency", SEARCH))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"


def test_a_chart_card_is_a_figure_named_by_its_title_and_summary():
    props = figure_props("ops.latency")
    title, summary = props["aria-labelledby"].split(" ")
    assert json.loads(title) == {"chart": "ops.latency", "type": "chart-title"}
    assert json.loads(summary) == {"chart": "ops.latency", "type": "chart-summary"}
    assert props["role"] == "figure"


def test_a_label_points_at_the_dom_id_of_a_dict_id_and_names_the_group():
    control = dcc.Dropdown(id={"type": PAGE_PARAM, "name": "feature"})
    label, group = labelled("Feature", control)
    assert label.htmlFor == '{"name":"feature","type":"page-param"}'
    assert group.role == "group" and getattr(group, "aria-labelledby") == label.id == "page-param-feature-label"


def test_radio_items_sit_in_a_radiogroup_named_by_their_label():
    label, group = labelled("Compare with", dbc.RadioItems(id={"type": PAGE_PARAM, "name": "reference"}))
    assert not hasattr(label, "htmlFor") or label.htmlFor is None
    assert group.role == "radiogroup" and getattr(group, "aria-labelledby") == label.id


def test_the_panel_callback_fills_the_summary_and_the_link(shared_client):
    from tests.app.test_app_callbacks import GOOD_SEARCH, post_panel_callback

    response = post_panel_callback(shared_client, GOOD_SEARCH, {"chart": "ops.latency", "type": GRAPH})
    body = response.get_json()["response"]
    assert body['{"chart":"ops.latency","type":"chart-summary"}']["children"].startswith("Line chart of latency")
    assert body['{"chart":"ops.latency","type":"chart-csv"}']["href"].startswith("/api/charts/ops.latency?format=csv")
