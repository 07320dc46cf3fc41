"""Identifiers in a URL must exist in the data: symbol, model_version and run ids, for the API and the panels."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.registry import KNOWN
from dashapp.errors import BadParameter
from dashapp.pages.panels import update_chart
from tests.app.test_app_api import assert_error, window
from tests.app.test_app_callbacks import GRAPH, annotation, panel, text_of
from tests.fixtures import chart_args

# Every (chart, parameter) whose values must be identifiers the data has.
KNOWN_PARAMS = [(c, p) for c in sorted(REGISTRY) for p in get_chart(c).params if p.known]


def test_every_symbol_model_version_and_run_parameter_is_checked():
    names = {p.name for _, p in KNOWN_PARAMS}
    assert names == {"symbol", "model_version", "run", "focus", "agent_run"}


def test_the_known_values_are_those_in_the_data(shared_db, shared_config):
    predictions = pd.read_parquet(shared_config.data_dir / "predictions")
    runs = pd.read_parquet(shared_config.data_dir / "backtest_runs.parquet")
    assert KNOWN["symbol"](shared_db) == set(predictions["symbol"])
    assert KNOWN["model_version"](shared_db) == set(predictions["model_version"])
    assert KNOWN["run"](shared_db) == set(runs["run_id"])


@pytest.mark.parametrize(("chart_id", "param"), KNOWN_PARAMS, ids=[f"{c}-{p.name}" for c, p in KNOWN_PARAMS])
def test_an_identifier_the_data_lacks_is_a_400_naming_the_parameter(shared_client, chart_id, param):
    body = assert_error(shared_client.get(f"/api/charts/{chart_id}?{window(chart_id)}&{param.name}=NOPE1"), 400)
    assert body["param"] == param.name
    assert "names no known" in body["error"] and "NOPE1" in body["error"]


@pytest.mark.parametrize(
    ("chart_id", "query"),
    [
        ("ops.latency", "symbol=AAPL&symbol=TSLA&model_version=v2"),
        ("correlation.matrix", "agent_run=bt-ppo-2.0"),
        ("backtest.monthly", "run=bt-ppo-2.0&run=bt-ppo-2.1&focus=bt-ppo-2.1"),
    ],
)
def test_identifiers_the_data_has_are_accepted(shared_client, chart_id, query):
    assert shared_client.get(f"/api/charts/{chart_id}?{window(chart_id)}&{query}").status_code == 200


def test_one_unknown_among_known_symbols_is_named(shared_db):
    with pytest.raises(BadParameter) as error:
        render(get_chart("overview.kpis"), {**chart_args("overview.kpis"), "symbol": ["AAPL", "ZZZZ"]}, shared_db)
    assert error.value.param == "symbol" and error.value.message == "symbol: names no known symbol: ZZZZ"


def test_the_drift_api_checks_them_too(shared_client):
    assert_error(shared_client.get("/api/drift?model_version=v9"), 400, "model_version")


def test_a_panel_says_which_filter_names_nothing_in_the_data(shared_db):
    figure, footer = panel(
        "?start=2024-03-01&end=2024-03-04&model_version=v9", {"type": GRAPH, "chart": "ops.latency"}, shared_db
    )
    assert annotation(figure) == "Invalid filter"
    assert text_of(footer) == "model_version: names no known model version: v9"


def test_the_identifier_lists_come_from_the_results_cache(shared_app, monkeypatch):
    db = shared_app.server.extensions["dashapp"].db
    executed = []
    execute = db._execute
    monkeypatch.setattr(db, "_execute", lambda query, *a, **k: executed.append(query.name) or execute(query, *a, **k))
    for search in ("?symbol=AAPL", "?symbol=TSLA", "?symbol=NOPE"):
        update_chart(search + "&start=2024-03-01&end=2024-03-04", {"type": GRAPH, "chart": "ops.error_rate"}, db)
    assert executed.count("meta_filter_options") <= 1
