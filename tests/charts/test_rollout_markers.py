"""Rollout markers on the charts over time: where each model version first served, where each training run ended
and where each agent version began paper trading, checked against the same parquet read with pandas."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from cachelib import SimpleCache
from plotly.io.json import to_json_plotly

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.registry import chart_version, parse_params
from dashapp.db import Database
from dashapp.errors import BadParameter
from tests.fixtures import BACKTEST_PERIOD, predictions, write_partitioned

MODEL_CHARTS = sorted(chart_id for chart_id, spec in REGISTRY.items() if spec.markers == "models")
MARKED_PAGES = {"/", "/quality", "/drift", "/sentiment", "/operations"}
# From before t3 ended (02-20) to the fixture's last day: t1 and t2 ended before it, v1 and v2 first served in it.
WINDOW = {"start": ["2024-02-15"], "end": ["2024-03-04"]}
# Charts that draw their empty state on the fixture data (no missing values, buckets too thin for drift): an empty
# state has no time axis and gets no markers; quality.rows draws the same kind of day heatmap with them.
EMPTY_ON_FIXTURES = {"drift.heatmap", "quality.missing"}
KINDS = ("model rollouts", "training runs")


def marker_traces(figure: dict, name: str | None = None) -> list[dict]:
    return [
        t
        for t in figure["data"]
        if str(t.get("legendgroup", "")).startswith("markers-") and (name is None or t["name"] == name)
    ]


def marked_at(figure: dict, name: str) -> list[pd.Timestamp]:
    """Where one kind's lines stand, in the first subplot (every subplot gets the same lines)."""
    traces = marker_traces(figure, name)
    if not traces:
        return []
    return sorted({pd.Timestamp(x) for x in traces[0]["x"] if x is not None})


def first_served(data_dir: Path, start: str, end: str) -> list[pd.Timestamp]:
    """Each version's first prediction over the whole log, kept when it falls in [start, end) and more than an hour
    after the log began (a version serving then is no rollout): pandas, not SQL."""
    log = pd.read_parquet(data_dir / "predictions")
    first = log.groupby("model_version")["ts"].min()
    began = log["ts"].min() + pd.Timedelta(hours=1)
    return sorted(t for t in first if pd.Timestamp(start) <= t < pd.Timestamp(end) and t > began)


def training_ends(data_dir: Path, start: str, end: str) -> list[pd.Timestamp]:
    runs = pd.read_parquet(data_dir / "training_runs.parquet")
    return sorted(t for t in runs["finished_at"] if pd.Timestamp(start) <= t < pd.Timestamp(end))


@pytest.mark.parametrize("chart_id", MODEL_CHARTS)
def test_markers_sit_at_each_versions_first_prediction_and_each_training_runs_end(shared_db, shared_config, chart_id):
    rendered = render(get_chart(chart_id), WINDOW, shared_db)
    figure = rendered.figure
    if chart_id in EMPTY_ON_FIXTURES:
        assert figure["layout"]["xaxis"]["visible"] is False and marker_traces(figure) == []
        return
    start, end = WINDOW["start"][0], WINDOW["end"][0]
    served = first_served(shared_config.data_dir, start, end)
    assert served == [pd.Timestamp("2024-03-01 10:05")]  # v2; v1 was serving when the log began, at 09:00
    assert marked_at(figure, "model rollouts") == served
    assert marked_at(figure, "training runs") == training_ends(shared_config.data_dir, start, end)
    assert marked_at(figure, "training runs") == [pd.Timestamp("2024-02-20")]  # t3; t1 and t2 ended before
    # One legend entry per kind, however many lines and subplots; every line is hoverable with what and when.
    entries = [t["name"] for t in marker_traces(figure) if t["showlegend"]]
    assert entries == list(KINDS)
    texts = {text for t in marker_traces(figure, "model rollouts") for text in t["text"] if text}
    assert texts == {"model v2 first served 2024-03-01 10:05 UTC"}
    assert any("dashed lines: model rollouts (1), training runs (1)" in note for note in rendered.notes)


def test_every_chart_over_time_on_the_model_pages_has_markers():
    """A chart with a time axis on Overview, Data quality, Drift, Sentiment or Operations takes the markers."""
    for spec in REGISTRY.values():
        if spec.time_axis and spec.page in MARKED_PAGES:
            assert spec.markers == "models", spec.id
    # The heatmaps and lanes over time have no alert bands, but markers all the same.
    assert {"drift.heatmap", "quality.rows", "quality.missing", "quality.values", "ops.service_uptime"} <= set(
        MODEL_CHARTS
    )


def test_only_markers_inside_the_window_are_drawn(shared_db):
    # 09:30 is after v1's first prediction (09:00) and before v2's (10:05); no training run ended in March.
    args = {"start": ["2024-03-01T09:30"], "end": ["2024-03-04"]}
    figure = render(get_chart("ops.latency"), args, shared_db).figure
    assert marked_at(figure, "model rollouts") == [pd.Timestamp("2024-03-01 10:05")]
    assert marker_traces(figure, "training runs") == []
    assert [t["name"] for t in marker_traces(figure) if t["showlegend"]] == ["model rollouts"]


def test_a_model_version_filter_keeps_its_own_markers(shared_db):
    v2 = render(get_chart("sentiment.labels"), WINDOW | {"model_version": ["v2"]}, shared_db).figure
    assert marked_at(v2, "model rollouts") == [pd.Timestamp("2024-03-01 10:05")]
    assert marked_at(v2, "training runs") == [pd.Timestamp("2024-02-20")]  # t3 trained v2
    v1 = render(get_chart("sentiment.labels"), WINDOW | {"model_version": ["v1"]}, shared_db).figure
    assert marker_traces(v1) == []  # v1 was serving when the log began; t3 trained v2


def test_a_stacked_figure_gets_the_lines_in_every_row_behind_one_legend_entry_per_kind(shared_db):
    figure = render(get_chart("ops.service_resources"), WINDOW, shared_db).figure
    rows = marker_traces(figure, "model rollouts")
    assert [t["xaxis"] for t in rows] == ["x", "x2", "x3"]
    assert [t["showlegend"] for t in rows] == [True, False, False]
    for trace in rows:  # each on a hidden [0, 1] axis laid over its own row
        axis = figure["layout"][trace["yaxis"].replace("y", "yaxis")]
        row_axis = figure["layout"][trace["xaxis"].replace("x", "xaxis")]["anchor"]
        assert axis == {**axis, "overlaying": row_axis, "range": [0, 1], "visible": False}


def test_markers_hide_draws_none_and_keeps_the_figure(shared_db):
    spec = get_chart("overview.volume")
    hidden = render(spec, WINDOW | {"markers": ["hide"], "alerts": ["hide"]}, shared_db)
    shown = render(spec, WINDOW | {"alerts": ["hide"]}, shared_db)
    assert marker_traces(hidden.figure) == [] and marker_traces(shown.figure)
    assert to_json_plotly(hidden.figure["data"]) == to_json_plotly(shown.figure["data"][: len(hidden.figure["data"])])
    assert not any("dashed lines" in note for note in hidden.notes)


def test_a_window_without_data_draws_no_markers(shared_db):
    # v1's rollout lies in this window, but the chart has no rows of it (an empty state has no time axis).
    figure = render(get_chart("ops.latency"), {"start": ["2024-02-29"], "end": ["2024-03-01T08:00"]}, shared_db).figure
    assert marker_traces(figure) == []


def test_a_bad_markers_value_is_a_bad_parameter_naming_it():
    with pytest.raises(BadParameter) as raised:
        parse_params(get_chart("ops.latency"), {"markers": ["off"]})
    assert raised.value.param == "markers" and raised.value.status == 400


def test_the_api_answers_400_naming_markers_and_accepts_hide(shared_client, shared_config):
    bad = shared_client.get("/api/charts/ops.latency?start=2024-03-01&end=2024-03-04&markers=nope")
    assert bad.status_code == 400 and bad.get_json()["param"] == "markers"
    hidden = shared_client.get("/api/charts/ops.latency?start=2024-03-01&end=2024-03-04&markers=hide")
    assert hidden.status_code == 200 and marker_traces(hidden.get_json()["figure"]) == []
    shown = shared_client.get("/api/charts/ops.latency?start=2024-03-01&end=2024-03-04")
    served = first_served(shared_config.data_dir, "2024-03-01", "2024-03-04")
    assert marked_at(shown.get_json()["figure"], "model rollouts") == served
    # A chart without markers refuses the parameter from the API, as it refuses alerts.
    assert shared_client.get("/api/charts/overview.kpis?markers=hide").status_code == 400


def test_backtest_curves_mark_where_each_shown_agent_version_began_paper_trading(shared_db, shared_config):
    rendered = render(get_chart("backtest.cumulative"), dict(BACKTEST_PERIOD), shared_db)
    runs = pd.read_parquet(shared_config.data_dir / "backtest_runs.parquet")
    returns = pd.read_parquet(shared_config.data_dir / "backtest_returns.parquet")
    shown = runs[runs["run_id"].isin(rendered.data["run_id"])]
    paper = runs[(runs["kind"] == "paper") & runs.set_index(["agent", "agent_version"]).index.isin(
        shown.set_index(["agent", "agent_version"]).index
    )]  # fmt: skip
    starts = returns[returns["run_id"].isin(paper["run_id"])].merge(paper, on="run_id")
    expected = sorted(pd.Timestamp(t) for t in starts.groupby(["agent", "agent_version"])["ts"].min())
    assert expected == [pd.Timestamp("2024-01-02")]  # ppo 2.1's paper run; 2.0 was only backtested
    assert marked_at(rendered.figure, "agent versions") == expected
    (trace,) = marker_traces(rendered.figure)
    assert trace["showlegend"] and {t for t in trace["text"] if t} == {
        "ppo 2.1 paper trading from 2024-01-02 (paper-ppo-2.1)"
    }
    # A period that starts after it leaves the marker out.
    later = render(get_chart("backtest.cumulative"), {"from": ["2024-01-03"], "to": ["2024-03-29"]}, shared_db)
    assert marker_traces(later.figure) == []


def test_a_new_rollout_redraws_a_chart_that_reads_another_table(shared_config, tmp_path):
    """ops.pipeline_runs reads pipeline_runs only; its markers read predictions and training_runs, so a new version
    or training run changes its version (auto-refresh, embed ETags) and its next render draws it."""
    data = Path(shutil.copytree(shared_config.data_dir, tmp_path / "data"))
    db = Database(replace(shared_config, data_dir=data, cache_dir=tmp_path / "cache"), cache=SimpleCache())
    spec, args = get_chart("ops.pipeline_runs"), WINDOW | {"alerts": ["hide"]}
    before, hidden = chart_version(spec, args, db), chart_version(spec, args | {"markers": ["hide"]}, db)
    assert marked_at(render(spec, args, db).figure, "model rollouts") == first_served(data, "2024-02-15", "2024-03-04")

    canary = predictions().iloc[[10]].assign(model_version="v3", ts=pd.Timestamp("2024-03-03 19:00"), request_id="c1")
    canary["ts"] = canary["ts"].astype("datetime64[us]")
    (path,) = write_partitioned(data, "predictions", canary)
    path.rename(path.with_name("canary.parquet"))
    assert chart_version(spec, args, db) != before
    assert chart_version(spec, args | {"markers": ["hide"]}, db) == hidden  # nothing it draws has changed
    assert pd.Timestamp("2024-03-03 19:00") in marked_at(render(spec, args, db).figure, "model rollouts")


def test_without_training_runs_the_rollouts_are_still_marked_and_the_footer_says_why_runs_are_not(db, data_dir):
    (data_dir / "training_runs.parquet").unlink()
    rendered = render(get_chart("ops.latency"), WINDOW, db)
    assert marked_at(rendered.figure, "model rollouts") == first_served(data_dir, "2024-02-15", "2024-03-04")
    assert marker_traces(rendered.figure, "training runs") == []
    assert "no training runs marked: training_runs is unavailable" in rendered.notes
