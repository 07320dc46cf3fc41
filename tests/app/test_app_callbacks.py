"""Callbacks called as plain functions: the chart panel, and the filter bar kept in the URL."""

from __future__ import annotations

from datetime import datetime, timedelta

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import pytest
from dash import no_update

from dashapp import deadline
from dashapp.charts import REGISTRY
from dashapp.pages import panels, shell
from dashapp.pages.panels import GRAPH, update_chart

CHART_IDS = sorted(REGISTRY)
GOOD_SEARCH = "?start=2024-03-01&end=2024-03-04"
NOW = datetime(2024, 3, 4, 12, 0)


def graph_id(chart_id) -> dict:
    return {"type": GRAPH, "chart": chart_id}


def panel(search, graph, db) -> tuple[go.Figure, object]:
    """update_chart's output, its figure (a cached dict, or an error's go.Figure) as a go.Figure."""
    figure, footer = update_chart(search, graph, db)
    return go.Figure(figure), footer


def annotation(fig) -> str | None:
    return fig.layout.annotations[0].text if fig.layout.annotations else None


def text_of(component) -> str:
    """Flatten a Dash component tree (or a string) to its visible text."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return "".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


# -- the chart panel ------------------------------------------------------------------------------


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_a_panel_renders_its_chart_and_says_what_data_it_covers(shared_db, chart_id):
    figure, footer = panel(GOOD_SEARCH, graph_id(chart_id), shared_db)
    assert len(figure.data) > 0 or annotation(figure)
    assert isinstance(footer, str) and "data through" in footer


def test_a_panel_passes_the_filters_in_the_url_to_its_chart(shared_db):
    figure, footer = panel(GOOD_SEARCH + "&symbol=TSLA&bucket=1d&markers=hide", graph_id("ops.throughput"), shared_db)
    assert [trace.name for trace in figure.data] == ["ok", "4xx", "5xx"]
    marked, _ = panel(GOOD_SEARCH + "&symbol=TSLA&bucket=1d", graph_id("ops.throughput"), shared_db)
    assert [trace.name for trace in marked.data] == ["ok", "4xx", "5xx", "model rollouts"]  # v1's and v2's
    assert "1d buckets" in footer


@pytest.mark.parametrize(
    ("search", "param"),
    [
        ("?bucket=1s", "bucket"),
        ("?start=2024-13-01", "start"),
        ("?start=2024-03-02&end=2024-03-01", "start"),
        ("?symbol=x%27%20OR%20%271%27%3D%271", "symbol"),
        ("?model_version=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "model_version"),
        ("?model_version=a&model_version=b", "model_version"),
    ],
)
def test_a_bad_filter_gives_a_warning_on_the_panel_not_an_exception(shared_db, search, param):
    figure, footer = panel(search, graph_id("ops.latency"), shared_db)
    assert annotation(figure) == "Invalid filter"
    assert isinstance(footer, dbc.Alert) and footer.color == "warning"
    assert text_of(footer).startswith(f"{param}: ")


def test_a_missing_table_gives_an_empty_state_naming_it_and_its_columns(db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    figure, footer = panel(GOOD_SEARCH, graph_id("ops.pipeline_runs"), db)
    assert annotation(figure) == "pipeline_runs unavailable"
    text = text_of(footer)
    assert text.startswith("pipeline_runs: ")
    assert "Expected columns: pipeline (string), stage (string)" in text
    assert str(data_dir) not in text


def test_other_panels_keep_working_when_one_table_is_missing(db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    figure, footer = panel(GOOD_SEARCH + "&markers=hide", graph_id("ops.latency"), db)
    assert len(figure.data) == 6 and "data through" in footer  # p50, p95 and p99 of v1 and v2


def test_a_broken_file_is_left_out_and_the_footer_says_the_data_is_partial(db, data_dir):
    (data_dir / "predictions" / "dt=2024-03-01" / "part-0.parquet").write_bytes(b"garbage")
    figure, footer = panel(GOOD_SEARCH, graph_id("overview.volume"), db)
    assert figure["data"]
    assert "partial data: predictions skips 1 of 3 files (predictions/dt=2024-03-01/part-0.parquet: " in text_of(footer)


def test_a_table_without_a_readable_file_gives_an_empty_state_naming_one(db, data_dir):
    for path in (data_dir / "predictions").rglob("*.parquet"):
        path.write_bytes(b"garbage")
    figure, footer = panel(GOOD_SEARCH, graph_id("overview.volume"), db)
    assert annotation(figure) == "predictions unavailable"
    assert "predictions/dt=2024-03-01/part-0.parquet" in text_of(footer)


def test_a_view_past_its_deadline_is_a_warning_saying_what_to_narrow(db):
    deadline.begin(0.000001)
    try:
        figure, footer = panel(GOOD_SEARCH, graph_id("overview.volume"), db)
    finally:
        deadline.end()
    assert annotation(figure) == "Not drawn"
    assert isinstance(footer, dbc.Alert) and footer.color == "warning" and "narrow the time range" in text_of(footer)


FORGED_SEARCHES = [None, "", "?" + "a" * 10_000, "?start=" + "%00" * 100, ["?start=now-1d"], {"start": "now"}, 42]
FORGED_IDS = [
    graph_id("ops.nope"),
    graph_id(None),
    graph_id(["ops.latency"]),
    graph_id({"$ne": None}),
    {"type": GRAPH},
    "ops.latency",
    None,
    ["ops.latency"],
    42,
]


@pytest.mark.parametrize("search", FORGED_SEARCHES, ids=[f"search-{i}" for i in range(len(FORGED_SEARCHES))])
def test_a_forged_search_never_raises_and_falls_back_to_a_panel(shared_db, search, caplog):
    figure, footer = panel(search, graph_id("ops.latency"), shared_db)
    assert figure is not None and footer is not None
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("forged_id", FORGED_IDS, ids=[f"id-{i}" for i in range(len(FORGED_IDS))])
def test_a_forged_graph_id_is_an_unknown_chart_not_an_error(shared_db, forged_id, caplog):
    figure, footer = panel(GOOD_SEARCH, forged_id, shared_db)
    assert annotation(figure) == "Unknown chart"
    assert "no chart named" in text_of(footer)
    assert "Traceback" not in caplog.text


def post_panel_callback(client, search, state_id):
    """POST what the browser sends for one panel, with whatever search and id a forger likes."""
    real = {"chart": "ops.latency", "type": GRAPH}
    drawn = {"chart": "ops.latency", "type": "chart-drawn"}
    output = (
        '..{"chart":["MATCH"],"type":"chart-graph"}.figure...{"chart":["MATCH"],"type":"chart-status"}.children'
        '...{"chart":["MATCH"],"type":"chart-drawn"}.data...{"chart":["MATCH"],"type":"chart-summary"}.children'
        '...{"chart":["MATCH"],"type":"chart-csv"}.href..'
    )
    body = {
        "output": output,
        "outputs": [
            {"id": real, "property": "figure"},
            {"id": {"chart": "ops.latency", "type": "chart-status"}, "property": "children"},
            {"id": drawn, "property": "data"},
            {"id": {"chart": "ops.latency", "type": "chart-summary"}, "property": "children"},
            {"id": {"chart": "ops.latency", "type": "chart-csv"}, "property": "href"},
        ],
        "inputs": [
            {"id": "url", "property": "search", "value": search},
            {"id": {"chart": "ops.latency", "type": "chart-stale"}, "property": "data", "value": None},
        ],
        "changedPropIds": ["url.search"],
        "state": [{"id": real, "property": "id", "value": state_id}, {"id": drawn, "property": "data", "value": None}],
    }
    return client.post("/_dash-update-component", json=body)


def test_the_panel_callback_answers_over_http(shared_client):
    response = post_panel_callback(shared_client, GOOD_SEARCH, {"chart": "ops.latency", "type": GRAPH})
    assert response.status_code == 200
    assert "data through" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("search", "state_id"),
    [
        ("?symbol=x%27%20OR%20%271%27%3D%271", {"chart": "ops.latency", "type": GRAPH}),
        (["not", "a", "string"], {"chart": "ops.latency", "type": GRAPH}),
        (GOOD_SEARCH, "forged"),
        (GOOD_SEARCH, {"chart": "../../etc/passwd", "type": GRAPH}),
        (None, None),
        ("?symbol=NOPE&model_version=v9", {"chart": "ops.latency", "type": GRAPH}),
        ("?" + "&".join(f"symbol=S{i}" for i in range(1000)), {"chart": "ops.latency", "type": GRAPH}),
        ("?start=%00&end=" + "9" * 100_000, {"chart": "ops.latency", "type": GRAPH}),
        ("?run=x%27%3B%20DROP%20TABLE%20backtest_runs%3B--", {"chart": "backtest.metrics", "type": GRAPH}),
        ({"search": 1}, {"chart": ["ops.latency"], "type": GRAPH}),
    ],
)
def test_a_forged_callback_post_is_answered_with_a_panel_message_not_a_500(shared_client, search, state_id):
    response = post_panel_callback(shared_client, search, state_id)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Traceback" not in text


MALFORMED_CALLBACKS = [
    {"output": "..nope.figure..", "outputs": [{"id": "nope", "property": "figure"}], "inputs": []},
    {"output": "page-content.children"},
    {"output": "page-content.children", "outputs": "x", "inputs": "y"},
    {"output": ["not", "a", "string"], "outputs": [], "inputs": []},
    {},
    [],
    "just a string",
]


@pytest.mark.parametrize("body", MALFORMED_CALLBACKS)
def test_a_malformed_callback_post_is_a_400_not_a_500(shared_client, body, caplog):
    response = shared_client.post("/_dash-update-component", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"].startswith("malformed callback request (id ")
    assert "Traceback" not in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_an_unknown_chart_says_so(shared_db):
    figure, footer = panel(GOOD_SEARCH, graph_id("ops.nope"), shared_db)
    assert annotation(figure) == "Unknown chart"
    assert "ops.nope" in text_of(footer)


def test_a_panel_with_no_search_uses_the_default_window(shared_db):
    figure, footer = panel(None, graph_id("ops.latency"), shared_db)
    assert annotation(figure) == "No requests in this window"  # the fixture data is from 2024
    assert "data through 2024-03-03 18:00 UTC" in footer


def test_the_chart_card_lays_out_a_graph_and_a_footer_for_the_chart():
    card = panels.chart_card("ops.latency")
    assert card.to_plotly_json()["props"]["data-chart"] == "ops.latency"
    assert "Latency p50 / p95 / p99 by model version" in str(card)


# -- the filter bar and the URL -------------------------------------------------------------------


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(shell, "utc_now", lambda: NOW)
    return NOW


def test_no_query_string_means_the_last_seven_days(fixed_now):
    assert shell.controls_from_search("") == ("7d", "2024-02-26", "2024-03-04", [], None)
    assert shell.controls_from_search(None) == shell.controls_from_search("?")


def test_the_default_preset_writes_an_empty_query_string():
    assert shell.search_from_controls("", "7d", None, None, [], None) == ""
    assert shell.search_from_controls("?start=now-30d", "7d", None, None, None, None) == ""


@pytest.mark.parametrize(("preset", "days"), [("24h", None), ("30d", 30), ("90d", 90)])
def test_a_preset_writes_a_relative_start_and_reads_back_as_the_same_preset(fixed_now, preset, days):
    search = shell.search_from_controls("", preset, None, None, [], None)
    assert search == f"?start=now-{preset}"
    preset_back, start_date, end_date, symbols, version = shell.controls_from_search(search)
    assert preset_back == preset
    if days:
        assert start_date == (NOW - timedelta(days=days)).date().isoformat()
    assert end_date == "2024-03-04"


def test_custom_dates_write_start_and_the_day_after_the_last_day_as_end(fixed_now):
    search = shell.search_from_controls("", "custom", "2024-03-01", "2024-03-03", [], None)
    assert search == "?start=2024-03-01&end=2024-03-04"
    assert shell.controls_from_search(search) == ("custom", "2024-03-01", "2024-03-03", [], None)


def test_custom_dates_from_a_date_picker_with_times_keep_the_day():
    search = shell.search_from_controls("", "custom", "2024-03-01T00:00:00", "2024-03-01T00:00:00", [], None)
    assert search == "?start=2024-03-01&end=2024-03-02"


def test_symbols_and_model_version_are_carried_both_ways(fixed_now):
    search = shell.search_from_controls("", "7d", None, None, ["AAPL", "MSFT"], "v2")
    assert search == "?symbol=AAPL&symbol=MSFT&model_version=v2"
    assert shell.controls_from_search(search) == ("7d", "2024-02-26", "2024-03-04", ["AAPL", "MSFT"], "v2")


def test_page_specific_parameters_are_preserved(fixed_now):
    search = shell.search_from_controls("?feature=x&start=now-90d&symbol=OLD", "30d", None, None, ["AAPL"], None)
    assert search == "?feature=x&start=now-30d&symbol=AAPL"


def test_an_unreadable_start_in_the_url_shows_custom_without_dates(fixed_now):
    assert shell.controls_from_search("?start=garbage") == ("custom", None, None, [], None)


def test_a_url_change_sets_the_controls_and_their_options(shared_db, fixed_now):
    result = shell.sync_filters("?start=now-30d&symbol=AAPL", None, None, None, None, None, {}, "url", shared_db)
    assert result[0] is no_update
    assert result[1:6] == ("30d", "2024-02-03", "2024-03-04", ["AAPL"], None)
    assert result[6:8] == (["AAPL", "MSFT", "TSLA"], ["v1", "v2"])


def test_a_url_naming_an_unseen_symbol_keeps_it_selectable(shared_db, fixed_now):
    result = shell.sync_filters("?symbol=NVDA&model_version=v9", None, None, None, None, None, {}, "url", shared_db)
    assert "NVDA" in result[6] and "v9" in result[7]


def test_picking_a_preset_rewrites_the_url_and_the_dates(shared_db, fixed_now):
    result = shell.sync_filters(
        "?feature=x", "90d", "2024-03-01", "2024-03-02", ["AAPL"], None, {}, "filter-range", shared_db
    )
    assert result[:4] == ("?feature=x&start=now-90d&symbol=AAPL", "90d", "2023-12-05", "2024-03-04")


def test_picking_dates_switches_to_custom(shared_db, fixed_now):
    result = shell.sync_filters("", "7d", "2024-03-01", "2024-03-02", [], None, {}, "filter-dates", shared_db)
    assert result[:4] == ("?start=2024-03-01&end=2024-03-03", "custom", "2024-03-01", "2024-03-02")


def test_a_control_change_that_leaves_the_url_as_it_is_does_not_rewrite_it(shared_db, fixed_now):
    result = shell.sync_filters("", "7d", None, None, [], None, {}, "filter-range", shared_db)
    assert result[0] is no_update


@pytest.mark.parametrize(
    ("start_date", "end_date", "symbols", "version"),
    [("garbage", "2026-01-02", None, None), ("2026-01-01", None, {"a": 1}, 7), (None, [1], ["A", 2], ["v"])],
)
def test_forged_filter_values_are_dropped_not_raised(start_date, end_date, symbols, version):
    search = shell.search_from_controls("?feature=x", "custom", start_date, end_date, symbols, version)
    assert search == "?feature=x"


def test_a_page_control_writes_its_own_parameter_and_keeps_the_filters(shared_db, fixed_now):
    result = shell.sync_filters(
        "?start=now-30d&feature=old",
        "30d",
        None,
        None,
        [],
        None,
        {"feature": "vix", "reference": "previous"},
        "page-param",
        shared_db,
    )
    assert result[0] == "?feature=vix&reference=previous&start=now-30d"
    cleared = shell.sync_filters(
        "?feature=vix", "7d", None, None, [], None, {"feature": None, "reference": "reference"}, "page-param", shared_db
    )
    assert cleared[0] == ""  # both at their defaults


def test_a_page_control_keeps_a_deep_links_filters_though_the_controls_lag_behind(shared_db, fixed_now):
    """A link from an alert opens /drift with its period and feature; the feature control appears while
    the filter controls still hold their defaults. The URL's filters win."""
    result = shell.sync_filters(
        "?start=2024-03-01T06:00&end=2024-03-03T18:30&symbol=AAPL&feature=vix",
        "7d",
        None,
        None,
        [],
        None,
        {"feature": "vix"},
        "page-param",
        shared_db,
    )
    assert result[0] == "?feature=vix&start=2024-03-01&end=2024-03-04&symbol=AAPL"  # whole days, as the picker


def test_a_url_change_sets_the_page_controls(shared_db, fixed_now):
    result = shell.sync_filters(
        "?feature=vix", None, None, None, None, None, {"feature": None, "reference": None}, "url", shared_db
    )
    assert result[8] == ["vix", None]
