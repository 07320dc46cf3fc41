"""Figure builders are pure functions of a small frame: traces, names, axes, and one shared empty state."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashapp.charts import alerts, operations, overview
from dashapp.charts.figures import DRIFT_TINTS, empty_figure, table_figure

START, END = datetime(2024, 3, 1), datetime(2024, 3, 2)
PARAMS = {"start": START, "end": END, "bucket": 3600, "symbol": [], "model_version": None}
H1, H2 = datetime(2024, 3, 1, 9), datetime(2024, 3, 1, 10)


def requests_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bucket": [H1, H1, H2],
            "model_version": ["v1", "v2", "v1"],
            "requests": [3600, 360, 7200],
            "server_errors": [36, 0, 72],
            "client_errors": [360, 36, 0],
            "cache_hits": [900, 0, 1800],
            "cache_lookups": [1800, 0, 3600],
        }
    )


def error_rate_frame() -> pd.DataFrame:
    return operations.error_rate_frame(requests_frame())


def cache_hit_frame() -> pd.DataFrame:
    return operations.cache_hit_frame(requests_frame())


def latency_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bucket": [H1, H1, H2],
            "model_version": ["v1", "v2", "v1"],
            "p50_ms": [100.0, 150.0, 110.0],
            "p95_ms": [300.0, 500.0, 320.0],
            "p99_ms": [900.0, 1200.0, 950.0],
            "requests": [10, 5, 12],
        }
    )


def pipeline_runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pipeline": ["ingest", "ingest", "train"],
            "run_id": ["i1", "i2", "t1"],
            "started_at": [H1, H2, H1],
            "finished_at": [H1, H2, H2],
            "duration_s": [100.0, 25.0, 600.0],
            "status": ["success", "failed", "success"],
            "stages": [2, 2, 1],
            "failed_stage": [None, "parse", None],
            "error": [None, "schema mismatch", None],
            "rows_out": [98, 0, 1],
        }
    )


def pipeline_health_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pipeline": ["ingest", "train"],
            "runs": [4, 3],
            "failed": [2, 0],
            "failure_rate": [0.5, 0.0],
            "median_duration_s": [110.0, 600.0],
            "p95_duration_s": [273.0, 1140.0],
            "last_run": pd.to_datetime(["2024-03-03 01:00", "2024-03-03 02:00"]),
            "last_failure": pd.to_datetime(["2024-03-02 13:00", None]),
            "last_error": ["timeout", None],
        }
    )


def kpi_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["predictions", "error_rate", "p95_latency_ms", "cache_hit_rate"],
            "current": [1200.0, 0.01, 250.0, None],
            "previous": [1000.0, 0.02, None, 0.7],
        }
    )


def accuracy_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": [datetime(2024, 3, 1), datetime(2024, 3, 1), datetime(2024, 3, 2)],
            "model_version": ["v1", "v2", "v1"],
            "with_outcome": [3, 1, 1],
            "correct": [3, 0, 1],
            "accuracy": [1.0, 0.0, 1.0],
        }
    )


def volume_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"bucket": [H1, H1, H2], "label": ["positive", "negative", "positive"], "predictions": [5, 2, 7]}
    )


def label_mix_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model_version": ["v1", "v1", "v2"],
            "label": ["negative", "positive", "neutral"],
            "predictions": [2, 6, 4],
            "share": [0.25, 0.75, 1.0],
        }
    )


def alert_periods_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule": ["feature_drift", "latency_p95"],
            "series": ["feature=vix", "model_version=v1"],
            "start": pd.to_datetime(["2024-03-02 00:00", "2024-03-01 11:00"]),
            "end": pd.to_datetime(["2024-03-04 00:00", "2024-03-01 13:00"]),
            "still_firing": [True, False],
            "severity": ["critical", "warning"],
            "peak": [0.93, 412.0],
        }
    )


def names(fig: go.Figure) -> list[str]:
    return [trace.name for trace in fig.data]


def annotation(fig: go.Figure) -> str | None:
    return fig.layout.annotations[0].text if fig.layout.annotations else None


# -- the shared empty state ----------------------------------------------------------------------


def test_the_empty_figure_shows_its_reason_on_blank_axes():
    fig = empty_figure("No requests in this window")
    assert fig.data == ()
    assert annotation(fig) == "No requests in this window"
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False


BUILDERS_AND_EMPTY_STATES = [
    (operations.throughput_figure, requests_frame, operations.NO_REQUESTS),
    (operations.latency_figure, latency_frame, operations.NO_REQUESTS),
    (operations.error_rate_figure, error_rate_frame, operations.NO_REQUESTS),
    # Emptied after shaping, the frame still knows its window had requests (none without a lookup is below).
    (operations.cache_hit_figure, cache_hit_frame, "No cache_hit values in this window"),
    (operations.traffic_split_figure, requests_frame, operations.NO_REQUESTS),
    (operations.pipeline_runs_figure, pipeline_runs_frame, "No pipeline runs in this window"),
    (operations.pipeline_health_figure, pipeline_health_frame, "No pipeline runs in this window"),
    (overview.volume_figure, volume_frame, "No predictions in this window"),
    (overview.label_mix_figure, label_mix_frame, "No predictions in this window"),
    (alerts.latest_figure, alert_periods_frame, "No alert fired in this window"),
    (alerts.timeline_figure, alert_periods_frame, "No alert fired in this window"),
]

BUILDER_NAMES = [builder.__name__ for builder, *_ in BUILDERS_AND_EMPTY_STATES]


@pytest.mark.parametrize(("builder", "make_frame", "reason"), BUILDERS_AND_EMPTY_STATES, ids=BUILDER_NAMES)
def test_an_empty_frame_gives_the_empty_state_with_its_reason(builder, make_frame, reason):
    fig = builder(make_frame().iloc[0:0], PARAMS)
    assert fig.data == ()
    assert annotation(fig) == reason


@pytest.mark.parametrize(("builder", "make_frame", "reason"), BUILDERS_AND_EMPTY_STATES, ids=BUILDER_NAMES)
def test_a_small_frame_gives_traces_and_no_empty_state(builder, make_frame, reason):
    fig = builder(make_frame(), PARAMS)
    assert len(fig.data) > 0
    assert annotation(fig) is None
    fig.to_json()  # serialisable, as the API sends it


# -- operations -----------------------------------------------------------------------------------


def test_throughput_stacks_ok_4xx_and_5xx_per_second_over_versions():
    fig = operations.throughput_figure(requests_frame(), PARAMS)
    assert names(fig) == ["ok", "4xx", "5xx"]
    assert fig.layout.yaxis.title.text == "requests / s"
    ok, client, server = (list(trace.y) for trace in fig.data)
    # 09:00: 3960 requests, 396 4xx, 36 5xx over 3600 s; 10:00: 7200 requests, 72 5xx.
    assert ok == pytest.approx([3528 / 3600, 7128 / 3600])
    assert client == pytest.approx([396 / 3600, 0.0])
    assert server == pytest.approx([36 / 3600, 72 / 3600])
    assert {trace.stackgroup for trace in fig.data} == {"status"}


def test_time_charts_span_the_whole_selected_window():
    fig = operations.throughput_figure(requests_frame(), PARAMS)
    assert list(fig.layout.xaxis.range) == [START, END]


def test_latency_draws_p50_p95_p99_per_version_on_a_log_axis():
    fig = operations.latency_figure(latency_frame(), PARAMS)
    assert names(fig) == ["v1 p50", "v1 p95", "v1 p99", "v2 p50", "v2 p95", "v2 p99"]
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "latency (ms)"
    assert list(fig.data[1].y) == [300.0, 320.0]
    assert [trace.line.dash for trace in fig.data[:3]] == ["dot", "solid", "dash"]


def test_error_rate_plots_the_5xx_share_per_version_as_a_percentage():
    fig = operations.error_rate_figure(error_rate_frame(), PARAMS)
    assert names(fig) == ["v1", "v2"]
    assert fig.layout.yaxis.tickformat == ".1%"
    assert fig.layout.yaxis.title.text == "server errors (5xx)"
    assert list(fig.data[0].y) == pytest.approx([36 / 3600, 72 / 7200])
    assert list(fig.data[1].y) == [0.0]


def test_cache_hit_rate_sums_versions_and_skips_buckets_without_lookups():
    frame = requests_frame()
    frame.loc[2, ["cache_hits", "cache_lookups"]] = [0, 0]
    fig = operations.cache_hit_figure(operations.cache_hit_frame(frame), PARAMS)
    assert names(fig) == ["hit rate"]
    assert list(fig.data[0].x) == [H1]
    assert list(fig.data[0].y) == [0.5]
    assert fig.layout.yaxis.tickformat == ".0%"


def test_cache_hit_rate_without_any_lookups_says_so():
    frame = requests_frame().assign(cache_hits=0, cache_lookups=0)
    assert annotation(operations.cache_hit_figure(operations.cache_hit_frame(frame), PARAMS)) == (
        "No cache_hit values in this window"
    )
    no_requests = operations.cache_hit_frame(requests_frame().iloc[0:0])
    assert annotation(operations.cache_hit_figure(no_requests, PARAMS)) == operations.NO_REQUESTS


def test_traffic_split_stacks_versions_to_one_hundred_percent():
    fig = operations.traffic_split_figure(requests_frame(), PARAMS)
    assert names(fig) == ["v1", "v2"]
    assert {trace.groupnorm for trace in fig.data} == {"fraction"}
    assert fig.layout.yaxis.tickformat == ".0%"


def test_pipeline_runs_plot_one_series_per_pipeline_and_failures_apart():
    fig = operations.pipeline_runs_figure(pipeline_runs_frame(), PARAMS)
    assert names(fig) == ["ingest", "train", "failed"]
    assert list(fig.data[0].y) == [100.0]  # ingest's successful run only
    assert list(fig.data[2].y) == [25.0]
    assert fig.data[2].marker.symbol == "x"
    assert list(fig.data[2].customdata[0]) == ["ingest", "parse", "schema mismatch"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "duration (s)"


def test_pipeline_health_is_a_table_with_readable_columns():
    fig = operations.pipeline_health_figure(pipeline_health_frame(), PARAMS)
    (table,) = fig.data
    assert isinstance(table, go.Table)
    assert list(table.header.values) == [
        "Pipeline",
        "Runs",
        "Failed",
        "Median / p95 (s)",
        "Last run",
        "Last failure",
        "Last error",
    ]
    cells = [list(column) for column in table.cells.values]
    assert cells[2] == ["2 (50.0%)", "0 (0.0%)"]
    assert cells[3] == ["110.0 / 273.0", "600.0 / 1,140.0"]
    assert cells[5] == ["2024-03-02 13:00", "—"]
    assert cells[6] == ["timeout", ""]


# -- overview -------------------------------------------------------------------------------------


def test_kpis_draw_one_indicator_per_metric_with_deltas_where_there_is_a_previous_value():
    fig = overview.kpi_figure(kpi_frame(), PARAMS)
    assert len(fig.data) == len(overview.KPIS) == 4
    assert all(isinstance(trace, go.Indicator) for trace in fig.data)
    predictions, error_rate, latency, cache = fig.data
    assert predictions.mode == "number+delta" and predictions.delta.relative is True
    assert error_rate.delta.decreasing.color == overview.GOOD  # fewer errors is good
    assert latency.mode == "number"  # no previous value, no delta
    assert "no data" in cache.title.text


def test_accuracy_draws_a_line_per_version_over_the_daily_outcome_counts():
    fig = overview.accuracy_figure(accuracy_frame(), PARAMS)
    bars, v1, v2 = fig.data
    assert list(bars.y) == [4, 1] and bars.yaxis == "y2"
    assert (v1.name, list(v1.y)) == ("v1 (100.0%)", [1.0, 1.0])
    assert (v2.name, list(v2.y)) == ("v2 (0.0%)", [0.0])
    assert v1.xperiod == 86_400_000 and v1.xperiodalignment == "middle"
    assert fig.layout.yaxis.tickformat == ".0%"


def test_kpis_without_any_data_say_no_data_on_every_card():
    frame = kpi_frame().assign(current=None, previous=None)
    fig = overview.kpi_figure(frame, PARAMS)
    assert all("no data" in trace.title.text for trace in fig.data)


def test_volume_stacks_one_series_per_label():
    fig = overview.volume_figure(volume_frame(), PARAMS)
    assert names(fig) == ["negative", "positive"]
    assert list(fig.data[1].y) == [5, 7]
    assert fig.layout.yaxis.title.text == "predictions per bucket"


def test_label_mix_draws_horizontal_bars_of_shares_per_version():
    fig = overview.label_mix_figure(label_mix_frame(), PARAMS)
    assert names(fig) == ["negative", "neutral", "positive"]
    assert {trace.orientation for trace in fig.data} == {"h"}
    assert fig.layout.barmode == "stack"
    assert fig.layout.xaxis.tickformat == ".0%"
    assert list(fig.data[2].text) == ["75%"]


def test_latest_alerts_are_a_table_of_when_what_severity_and_peak():
    fig = alerts.latest_figure(alert_periods_frame(), PARAMS)
    (table,) = fig.data
    assert list(table.header.values) == ["When (UTC)", "Alert", "Severity", "Peak"]
    assert list(table.cells.values[0]) == ["2024-03-02 00:00 → <b>firing now</b>", "2024-03-01 11:00 → 03-01 13:00"]
    assert list(table.cells.fill.color[0]) == [DRIFT_TINTS["critical"], DRIFT_TINTS["warning"]]


def test_the_alert_timeline_draws_a_bar_per_period_coloured_by_severity():
    fig = alerts.timeline_figure(alert_periods_frame(), PARAMS)
    assert [trace.name for trace in fig.data] == ["warning", "critical"]
    assert list(fig.data[1].y) == ["feature_drift · feature=vix"]
    assert fig.data[0].x[0] == 2 * 3600 * 1000  # two hours, in milliseconds


def test_a_table_figure_shows_the_columns_in_header_order():
    frame = pd.DataFrame({"b": [1], "a": [2]})
    fig = table_figure(frame, {"a": "A", "b": "B"}, "nothing")
    assert list(fig.data[0].header.values) == ["A", "B"]
    assert [list(c) for c in fig.data[0].cells.values] == [[2], [1]]


def test_the_drift_table_shows_an_underflowed_p_value_as_such():
    from dashapp.charts import drift

    frame = pd.DataFrame(
        [
            {"feature": "vix", "kind": "numeric", "status": "critical", "rule": "PSI 0.364 ≥ 0.25", "psi": 0.364,
             "ks_statistic": 0.2383, "ks_pvalue": 0.0, "wasserstein": 2.566, "chi2_statistic": None,
             "chi2_pvalue": None, "js_distance": None, "n_current": 10, "n_reference": 20},
        ]
    )  # fmt: skip
    (table,) = drift.features_figure(frame, PARAMS).data
    assert "KS D=0.2383 p=<1e-300" in table.cells.values[5]
    assert table.cells.fill.color[0] == [drift.DRIFT_TINTS["critical"]]
