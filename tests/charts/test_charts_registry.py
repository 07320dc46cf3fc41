"""The registry round trip: every chart renders from its URL parameters on the fixture data."""

from __future__ import annotations

import json
import re

import pytest

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.registry import RESERVED
from dashapp.contract import TABLES
from dashapp.errors import DataUnavailable, UnknownChart
from dashapp.pages import PAGES

CHART_IDS = sorted(REGISTRY)
FIXTURE_WINDOW = {"start": ["2024-03-01"], "end": ["2024-03-04"]}
EMPTY_WINDOW = {"start": ["2023-01-01"], "end": ["2023-01-08"]}


def annotation(fig) -> str | None:
    return fig.layout.annotations[0].text if fig.layout.annotations else None


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_renders_the_fixture_data(shared_db, chart_id):
    rendered = render(get_chart(chart_id), FIXTURE_WINDOW, shared_db)
    assert not rendered.data.empty
    assert len(rendered.figure.data) > 0 or annotation(rendered.figure)
    assert rendered.figure.layout.height == rendered.spec.height
    assert "2024-03-01 00:00 → 2024-03-04 00:00 UTC" in rendered.coverage
    assert "data through" in rendered.coverage
    rendered.figure.to_json()


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_renders_a_window_without_data_as_an_explicit_empty_state(shared_db, chart_id):
    rendered = render(get_chart(chart_id), EMPTY_WINDOW, shared_db)
    figure = rendered.figure
    if chart_id == "overview.kpis":  # key numbers keep their cards and say "no data" on each
        assert all("no data" in trace.title.text for trace in figure.data)
    else:
        assert figure.data == ()
        assert re.match(r"No .* in this window", annotation(figure))
    assert "data through" in rendered.coverage  # the data exists, just not in this window


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
    # The defaults are relative (now-7d .. now); the fixture data is from 2024, so the window is empty.
    rendered = render(get_chart(chart_id), {}, shared_db)
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


def test_incidents_keep_serving_when_pipeline_runs_are_missing(db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    rendered = render(get_chart("overview.incidents"), FIXTURE_WINDOW, db)
    assert any(note.startswith("pipeline incidents unavailable") for note in rendered.notes)
    assert "pipeline_runs unavailable" in rendered.coverage


def test_key_numbers_note_missing_outcomes_and_keep_the_rest(db, data_dir):
    for path in (data_dir / "outcomes").rglob("*.parquet"):
        path.unlink()
    rendered = render(get_chart("overview.kpis"), FIXTURE_WINDOW, db)
    assert any(note.startswith("accuracy unavailable") for note in rendered.notes)
    values = rendered.data.set_index("metric")["current"]
    assert values["predictions"] == 11 and values.isna()["accuracy"]


def test_key_numbers_carry_accuracy_from_outcomes(shared_db):
    rendered = render(get_chart("overview.kpis"), {"start": ["2024-03-03"], "end": ["2024-03-04"]}, shared_db)
    frame = rendered.data.set_index("metric")
    assert frame.loc["accuracy", "current"] == 1.0
    # Accuracy covers the window only: its join is the page's heaviest query.
    assert frame["previous"].isna()["accuracy"]
    assert frame.loc["predictions"].tolist() == [3.0, 4.0]


def test_filters_reach_the_query(shared_db):
    args = {**FIXTURE_WINDOW, "symbol": ["TSLA"], "model_version": ["v2"], "bucket": ["1d"]}
    rendered = render(get_chart("ops.throughput"), args, shared_db)
    assert rendered.data["requests"].sum() == 1  # r11
    assert rendered.notes == ["1d buckets"]
