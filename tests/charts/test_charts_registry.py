"""The registry round trip: every chart renders from its URL parameters on the fixture data."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from cachelib import SimpleCache

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.registry import RESERVED, parse_params
from dashapp.contract import TABLES
from dashapp.db import Database
from dashapp.errors import DataUnavailable, UnknownChart
from dashapp.pages import PAGES
from tests.fixtures import chart_args, evaluate_alerts

CHART_IDS = sorted(REGISTRY)
FIXTURE_WINDOW = {"start": ["2024-03-01"], "end": ["2024-03-04"]}
EMPTY_WINDOW = {"start": ["2023-01-01"], "end": ["2023-01-08"]}


def annotation(fig) -> str | None:
    return fig.layout.annotations[0].text if fig.layout.annotations else None


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_renders_the_fixture_data(shared_db, chart_id):
    rendered = render(get_chart(chart_id), chart_args(chart_id), shared_db)
    figure = go.Figure(rendered.figure)  # the cached dict is a valid figure
    assert not rendered.data.empty
    assert len(figure.data) > 0 or annotation(figure)
    assert figure.layout.height == rendered.spec.height
    window = (
        "2023-01-02 → 2024-03-29" if chart_id.startswith("backtest.") else "2024-03-01 00:00 → 2024-03-04 00:00 UTC"
    )
    assert window in rendered.coverage
    assert "data through" in rendered.coverage
    figure.to_json()


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_renders_a_window_without_data_as_an_explicit_empty_state(shared_db, chart_id):
    rendered = render(get_chart(chart_id), chart_args(chart_id, empty=True), shared_db)
    figure = go.Figure(rendered.figure)
    if chart_id == "overview.kpis":  # key numbers keep their cards and say "no data" on each
        assert all("no data" in trace.title.text for trace in figure.data)
    elif chart_id == "sentiment.training":  # training history is not windowed; production has no outcomes
        assert rendered.data["production_accuracy"].isna().all()
    elif chart_id == "sentiment.training_curves":  # training history is not windowed
        assert set(rendered.data["run_id"]) == {"t1", "t2", "t3"}
    elif chart_id == "quality.freshness":  # a status per table; predictions have no row before this window
        assert rendered.data.set_index("table").loc["predictions", "status"] == "no rows"
    elif chart_id == "quality.contract":  # whole tables, not the window; optional ones may be left out
        assert set(rendered.data["status"]) <= {"ok", "absent"} and "ok" in set(rendered.data["status"])
    elif chart_id == "quality.completeness":  # the fixture's market and backtests reach back into 2023
        assert "predictions" not in set(rendered.data["table"]) and len(rendered.data)
    elif chart_id == "quality.outliers":  # so do their numbers
        assert "predictions" not in set(rendered.data["table"]) and len(rendered.data)
    elif chart_id == "quality.rows":  # every table, every day: a day without rows is what it shows
        rows = rendered.data.groupby("table")["rows"].sum()
        assert rows["predictions"] == 0 and rows["market"] > 0
    elif chart_id == "alerts.current":  # before the history the scheduler kept: no state known
        assert set(rendered.data["state"]) == {"nodata"} and len(rendered.data)
    else:
        assert figure.data == ()
        assert re.match(r"No .* in this (window|period)", annotation(figure))
    assert "data through" in rendered.coverage  # the data exists, just not in this window


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_declares_every_table_its_data_reads(shared_config, chart_id, monkeypatch):
    """render() caches a chart's figure per fingerprint of spec.tables: an undeclared table would go stale."""
    db = Database(shared_config, cache=None)  # nothing cached, so every read happens
    read: set[str] = set()
    sources = db.sources

    def recording_sources(tables=None):
        read.update(TABLES if tables is None else tables)
        return sources(tables)

    monkeypatch.setattr(db, "sources", recording_sources)
    spec = get_chart(chart_id)
    spec.data(db, parse_params(spec, chart_args(chart_id))[0])
    assert read <= set(spec.tables)


def test_a_chart_is_drawn_once_per_data_fingerprint(shared_config, tmp_path, monkeypatch):
    data = Path(shutil.copytree(shared_config.data_dir, tmp_path / "data"))
    db = Database(replace(shared_config, data_dir=data), cache=SimpleCache())
    queries = []
    run = db.run
    monkeypatch.setattr(db, "run", lambda name, **params: queries.append(name) or run(name, **params))
    spec, args = get_chart("sentiment.confusion"), chart_args("sentiment.confusion")

    first = render(spec, args, db)
    assert queries == ["sentiment_confusion"]
    again = render(spec, args, db)
    assert queries == ["sentiment_confusion"]  # figure and data from the cache: no query, no drawing
    assert pio.to_json(again.figure) == pio.to_json(first.figure)
    assert again.data.equals(first.data) and again.notes == first.notes

    newest = max((data / "outcomes").rglob("*.parquet"))
    os.utime(newest, ns=(newest.stat().st_atime_ns, newest.stat().st_mtime_ns + 1000))
    render(spec, args, db)
    assert queries == ["sentiment_confusion"] * 2  # a changed file: drawn again


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_declares_an_area_id_a_page_params_and_contract_tables(chart_id):
    spec = get_chart(chart_id)
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", spec.id)
    assert spec.page in {page.path for page in PAGES}
    assert set(spec.tables) <= set(TABLES)
    names = [p.name for p in spec.params]
    assert len(names) == len(set(names)) and not set(names) & RESERVED
    json.dumps(spec.describe())


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_renders_its_defaults_against_the_clock(shared_db, chart_id):
    # Windows default to now-7d .. now (empty on the 2024 fixtures); a backtest period, to the runs' whole span.
    rendered = render(get_chart(chart_id), {}, shared_db)
    if chart_id.startswith("backtest."):
        assert (rendered.params["from"], rendered.params["to"]) == (None, None)
        assert not rendered.data.empty
    else:
        assert rendered.params["end"] > rendered.params["start"]


def test_an_unknown_chart_id_is_unknown_chart():
    with pytest.raises(UnknownChart) as raised:
        get_chart("ops.nope")
    assert raised.value.status == 404


def test_a_chart_whose_table_is_missing_raises_data_unavailable(db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    with pytest.raises(DataUnavailable) as raised:
        render(get_chart("ops.pipeline_health"), FIXTURE_WINDOW, db)
    assert raised.value.table == "pipeline_runs"


def test_alerts_keep_evaluating_when_pipeline_runs_are_missing(config, db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    evaluate_alerts(config)
    rendered = render(get_chart("alerts.current"), FIXTURE_WINDOW, db)
    states = rendered.data.set_index("rule")["state"]
    assert states["pipeline_failing"] == "error" and (states.drop("pipeline_failing") != "error").all()
    assert "pipeline_runs unavailable" in rendered.coverage


def test_accuracy_without_outcomes_is_an_empty_state_naming_the_table(db, data_dir):
    for path in (data_dir / "outcomes").rglob("*.parquet"):
        path.unlink()
    with pytest.raises(DataUnavailable) as raised:
        render(get_chart("overview.accuracy"), FIXTURE_WINDOW, db)
    assert raised.value.table == "outcomes"
    rendered = render(get_chart("overview.kpis"), FIXTURE_WINDOW, db)  # the serving numbers do not need it
    assert rendered.data.set_index("metric").loc["predictions", "current"] == 11


def test_accuracy_sums_outcome_partitions_into_prediction_days(shared_db):
    rendered = render(get_chart("overview.accuracy"), FIXTURE_WINDOW, shared_db)
    # v1 r01 right, r02 wrong; v2 r03 right (next day). v1 r07 right; v2 r06 right, r08 wrong. v1 r10 right.
    frame = rendered.data
    assert frame[["model_version", "with_outcome", "correct"]].values.tolist() == [
        ["v1", 2, 1],
        ["v2", 1, 1],
        ["v1", 1, 1],
        ["v2", 2, 1],
        ["v1", 1, 1],
    ]
    assert frame["accuracy"].tolist() == [0.5, 1.0, 1.0, 0.5, 1.0]


def test_key_numbers_compare_the_window_with_the_one_before(shared_db):
    rendered = render(get_chart("overview.kpis"), {"start": ["2024-03-03"], "end": ["2024-03-04"]}, shared_db)
    frame = rendered.data.set_index("metric")
    assert frame.loc["predictions"].tolist() == [3.0, 4.0]


def test_filters_reach_the_query(shared_db):
    args = {**FIXTURE_WINDOW, "symbol": ["TSLA"], "model_version": ["v2"], "bucket": ["1d"]}
    args |= {"alerts": ["hide"], "markers": ["hide"]}
    rendered = render(get_chart("ops.throughput"), args, shared_db)
    assert rendered.data["requests"].sum() == 1  # r11
    assert rendered.notes == ["1d buckets"]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("severity", ["zeta", "mid", "alpha"]),
        ("psi", ["zeta", "mid", "alpha"]),
        ("feature", ["alpha", "mid", "zeta"]),
        ("kind", ["mid", "zeta", "alpha"]),  # categorical first, then worst first
    ],
)
def test_the_drift_table_sorts_by_the_sort_parameter(sort, order):
    from dashapp.charts.drift import results_frame
    from dashapp.drift.engine import FeatureDrift

    results = [
        FeatureDrift("alpha", "numeric", "ok", "", psi=0.01),
        FeatureDrift("zeta", "numeric", "critical", "", psi=0.4),
        FeatureDrift("mid", "categorical", "warning", "", psi=0.2),
    ]
    assert results_frame(results, sort)["feature"].tolist() == order


def test_key_numbers_show_no_change_when_the_log_begins_inside_the_window_before(shared_db):
    # The fixture log begins 2024-03-01 09:00: a window from 03-02 has a half-covered window before it.
    rendered = render(get_chart("overview.kpis"), {"start": ["2024-03-02"], "end": ["2024-03-03"]}, shared_db)
    assert rendered.data["previous"].isna().all()
    assert "no change shown: the log begins 2024-03-01 09:00, inside the window before" in rendered.notes
    covered = render(get_chart("overview.kpis"), {"start": ["2024-03-03T09:00"], "end": ["2024-03-04"]}, shared_db)
    # The window before, 03-02 18:00 .. 03-03 09:00, holds r09 and r10.
    assert covered.data.set_index("metric").loc["predictions", "previous"] == 2.0
