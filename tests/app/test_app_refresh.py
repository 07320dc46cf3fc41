"""Auto-refresh: the data version of a chart, refresh= in the URL, and the tick that marks only changed panels."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashapp import deadline
from dashapp.charts import REGISTRY, get_chart, registry
from dashapp.charts.registry import chart_version
from dashapp.db import Database
from dashapp.pages import refresh, shell
from dashapp.pages.grids import GRID_DRAWN
from dashapp.pages.panels import GRAPH, redraw_chart
from dashapp.querycount import queries_counter
from tests.fixtures import DAY4, evaluate_alerts, publish_day

WINDOW = {"start": ["2024-03-01"], "end": ["2024-03-06"]}
NO_BANDS = {**WINDOW, "alerts": ["hide"], "markers": ["hide"]}  # the chart's own tables only
SEARCH = "?start=2024-03-01&end=2024-03-06"
LATENCY, PIPELINES = get_chart("ops.latency"), get_chart("ops.pipeline_runs")
ERROR_RULE = """
[[rule]]
name = "errors"
metric = "ops.error_rate"
comparison = ">"
critical = 0.1
bucket = "1h"
description = "d"
recommendation = "r"
"""


def queries_run() -> float:
    return sum(s.value for metric in queries_counter().collect() for s in metric.samples if s.name.endswith("_total"))


# -- the version --------------------------------------------------------------------------------


def test_a_version_stays_while_the_data_and_the_parameters_do(db):
    assert chart_version(LATENCY, WINDOW, db) == chart_version(LATENCY, WINDOW, db)
    assert chart_version(LATENCY, WINDOW, db) != chart_version(LATENCY, {**WINDOW, "bucket": ["1d"]}, db)
    assert chart_version(LATENCY, WINDOW, db) != chart_version(PIPELINES, WINDOW, db)


def test_a_new_file_changes_the_version_of_the_charts_that_read_its_table_only(db, data_dir):
    before = [chart_version(spec, NO_BANDS, db) for spec in (LATENCY, PIPELINES)]
    publish_day(data_dir, DAY4)
    assert chart_version(LATENCY, NO_BANDS, db) != before[0]
    assert chart_version(PIPELINES, NO_BANDS, db) == before[1]


def test_with_alert_bands_a_chart_follows_the_alert_store_and_without_them_it_does_not(config, db):
    evaluate_alerts(config, at=datetime(2024, 3, 2))  # before db-0's failed health check
    before = chart_version(PIPELINES, WINDOW, db), chart_version(PIPELINES, NO_BANDS, db)
    evaluate_alerts(config, at=DAY4)  # service_down fired since: a new firing period
    assert chart_version(PIPELINES, WINDOW, db) != before[0]
    assert chart_version(PIPELINES, NO_BANDS, db) == before[1]


def test_a_file_left_out_changes_the_version_since_the_footer_names_it(db, data_dir):
    before = chart_version(LATENCY, NO_BANDS, db)
    (data_dir / "predictions" / "dt=2024-03-04").mkdir()
    (data_dir / "predictions" / "dt=2024-03-04" / "part-0.parquet").write_bytes(b"garbage")
    assert chart_version(LATENCY, NO_BANDS, db) != before


def test_naming_a_symbol_adds_the_table_it_is_checked_against(db, data_dir):
    spec = get_chart("ops.pipeline_runs")  # reads pipeline_runs only, and takes no symbol
    assert "symbol" not in {p.name for p in spec.params}
    with_symbol = get_chart("ops.latency")
    before = chart_version(with_symbol, {**NO_BANDS, "symbol": ["AAPL"]}, db)
    publish_day(data_dir, DAY4)
    assert chart_version(with_symbol, {**NO_BANDS, "symbol": ["AAPL"]}, db) != before


@pytest.mark.parametrize(
    ("later", "moves"), [(datetime(2024, 3, 4, 12, 14), False), (datetime(2024, 3, 4, 12, 16), True)]
)
def test_a_relative_window_moves_the_version_when_its_bucket_aligned_end_does(db, monkeypatch, later, moves):
    monkeypatch.setattr(registry, "utc_now", lambda: datetime(2024, 3, 4, 12, 1))
    before = chart_version(LATENCY, {"start": ["now-7d"]}, db)  # 15-minute buckets: the window ends at 12:15
    monkeypatch.setattr(registry, "utc_now", lambda: later)
    assert (chart_version(LATENCY, {"start": ["now-7d"]}, db) != before) is moves


def test_a_rules_file_edited_into_a_bad_state_moves_the_version_and_raises_nothing(config, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(ERROR_RULE)
    db = Database(replace(config, alert_rules=rules))
    before = chart_version(PIPELINES, WINDOW, db)
    rules.write_text("[[rule]]\nname = ")
    assert chart_version(PIPELINES, WINDOW, db) != before
    rules.write_text(ERROR_RULE + "\n")  # fixed: the same rules, the same version
    assert chart_version(PIPELINES, WINDOW, db) == before


def test_computing_every_charts_version_runs_no_query(db):
    before = queries_run()
    for spec in REGISTRY.values():
        chart_version(spec, WINDOW, db)
    assert queries_run() == before


# -- refresh= in the URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "value", "expected"),
    [
        ("?start=now-30d", "5s", "?start=now-30d&refresh=5s"),
        ("?start=now-30d&refresh=5s", "1m", "?start=now-30d&refresh=1m"),
        ("?refresh=5s&start=now-30d", "off", "?start=now-30d"),
        ("", "off", no_update),
        ("?refresh=30s", "30s", no_update),
        ("?refresh=30s", "7s", no_update),  # forged: not an option
        ("?refresh=30s", ["5s"], no_update),
    ],
)
def test_the_picker_writes_refresh_into_the_url(search, value, expected):
    assert refresh.search_with_refresh(search, value) == expected


@pytest.mark.parametrize(
    ("search", "state"),
    [
        ("", ("off", None, "")),
        ("?refresh=5s", ("5s", 5, "")),
        ("?start=now-30d&refresh=5m", ("5m", 300, "")),
        ("?refresh=off", ("off", None, "")),
        ("?refresh=7s", ("off", None, "refresh: must be one of off, 5s, 30s, 1m, 5m, got '7s'")),
        ("?refresh=5s&refresh=1m", ("off", None, "refresh: may be given once")),
        (None, ("off", None, "")),
        (["?refresh=5s"], ("off", None, "")),
    ],
)
def test_the_url_sets_the_picker_and_a_bad_value_is_named(search, state):
    assert refresh.refresh_state(search) == state


def test_the_interval_follows_the_url():
    assert refresh.interval_props("?refresh=30s") == (30_000, False, None)
    _, off, notice = refresh.interval_props("?refresh=nope")
    assert off and notice.children == "refresh: must be one of off, 5s, 30s, 1m, 5m, got 'nope'"


def test_changing_a_filter_keeps_refresh_in_the_url_and_the_nav_links_carry_it():
    search = shell.search_from_controls("?refresh=5s", "30d", None, None, ["AAPL"], None)
    assert search == "?refresh=5s&start=now-30d&symbol=AAPL"
    assert all(link.children.href.endswith(search) for link in shell.nav_links("/", search))


def test_the_api_accepts_refresh_as_the_pages_do(client):
    assert client.get(f"/api/charts/ops.latency{SEARCH}&refresh=5s").status_code == 200


def test_an_embed_answers_304_to_its_etag_until_its_data_moves(client, data_dir):
    url = f"/embed/ops.latency{SEARCH}&refresh=5s"
    first = client.get(url)
    assert first.status_code == 200 and 'data-refresh="5"' in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    before = queries_run()
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert queries_run() == before
    assert client.get(url + "&theme=dark", headers={"If-None-Match": etag}).status_code == 200  # another page
    publish_day(data_dir, DAY4)
    moved = client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag


def test_an_embed_names_a_bad_refresh_value(client):
    response = client.get(f"/embed/ops.latency{SEARCH}&refresh=2s")
    assert response.status_code == 400
    assert "refresh: must be one of off, 5s, 30s, 1m, 5m, got &#39;2s&#39;" in response.get_data(as_text=True)


# -- the panels and the tick --------------------------------------------------------------------


def test_a_url_change_that_leaves_a_charts_version_redraws_nothing(db):
    graph = {"type": GRAPH, "chart": "ops.latency"}
    figure, footer, version = redraw_chart(SEARCH, graph, None, None, db)
    assert "data through" in footer and figure["layout"]["uirevision"] == SEARCH
    with pytest.raises(PreventUpdate):
        redraw_chart(SEARCH + "&refresh=5s&feature=vix", graph, version, "url", db)
    assert redraw_chart(SEARCH, graph, version, {"type": refresh.STALE, "chart": "ops.latency"}, db)[2] == version


def test_a_panel_the_server_would_not_draw_now_is_retried_on_the_next_tick(db):
    graph = {"type": GRAPH, "chart": "ops.latency"}
    deadline.begin(0.000001)
    try:
        figure, footer, version = redraw_chart(SEARCH, graph, None, None, db)
    finally:
        deadline.end()
    assert "narrow the time range" in str(footer) and version == ""
    assert refresh.stale_marks(["ops.latency"], {"ops.latency": version}, SEARCH, 7, db) == [7]


def post_tick(client, search: str, drawn: dict, tick: int = 3):
    """POST what the browser sends when the interval ticks on a page with these charts drawn at these versions
    (a table chart's version in its grid panel's store)."""
    stale = [{"id": {"chart": c, "type": refresh.STALE}, "property": "data"} for c in drawn]
    graphs = {c: v for c, v in drawn.items() if c not in REGISTRY or not REGISTRY[c].table}
    grids = {c: v for c, v in drawn.items() if c not in graphs}
    body = {
        "output": '{"chart":["ALL"],"type":"chart-stale"}.data',
        "outputs": stale,
        "inputs": [{"id": refresh.INTERVAL, "property": "n_intervals", "value": tick}],
        "changedPropIds": [f"{refresh.INTERVAL}.n_intervals"],
        "state": [
            {"id": "url", "property": "search", "value": search},
            [{"id": {"chart": c, "type": refresh.DRAWN}, "property": "data", "value": v} for c, v in graphs.items()],
            [{"id": {"chart": c, "type": GRID_DRAWN}, "property": "data", "value": v} for c, v in grids.items()],
        ],
    }
    return client.post("/_dash-update-component", json=body)


def test_an_idle_tick_answers_204_and_a_new_file_marks_only_the_charts_that_read_it(app, client, data_dir):
    search = SEARCH + "&alerts=hide&markers=hide"  # markers read predictions too: see test_rollout_markers
    db = app.server.extensions["dashapp"].db
    charts = ("ops.latency", "ops.throughput", "ops.pipeline_runs", "quality.duplicates", "ops.pipeline_health")
    drawn = {c: refresh.panel_version(c, search, db) for c in charts}
    drawn["ops.error_rate"] = None  # not drawn yet: its first render is on its way
    before = queries_run()
    idle = post_tick(client, search, drawn)
    assert (idle.status_code, idle.data) == (204, b"")
    publish_day(data_dir, DAY4)
    marked = post_tick(client, search, drawn, tick=4)
    assert marked.status_code == 200
    assert marked.get_json()["response"] == {
        '{"chart":"ops.latency","type":"chart-stale"}': {"data": 4},
        '{"chart":"ops.throughput","type":"chart-stale"}': {"data": 4},
        '{"chart":"quality.duplicates","type":"chart-stale"}': {"data": 4},  # a grid panel reading predictions
    }
    assert queries_run() == before


@pytest.mark.parametrize("drawn", [{"ops.latency": 42}, {"ops.nope": "x"}, {"ops.latency": ["a"]}])
def test_a_forged_tick_is_answered_without_an_error(client, drawn):
    response = post_tick(client, "?start=%00", drawn)
    assert response.status_code in (200, 204)


def test_the_query_count_is_on_metrics_by_query_and_route(client):
    client.get(f"/api/charts/ops.pipeline_runs{SEARCH}")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'dashapp_duckdb_queries_total{query="ops_pipeline_runs",route="/api/charts/<chart_id>"}' in text
