"""Cache entries are keyed by what they depend on, not by how the portal is served (dashapp/cache.py).

Two servers that differ only in settings that change no result share one cache: the second answers from
the first's entries without running a query. A setting that changes results (a drift threshold) makes new
memoized entries from the cached query results; a changed SQL file is a new entry for that query only.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashapp.charts import get_chart, render
from dashapp.db import Database
from dashapp.sqlfiles import QUERIES_DIR, load_query
from tests.fixtures import ALL, RecordingCache, chart_args, no_queries, serving_variant

# Day slices with a later table (accuracy), plain time buckets, drift (memoized in Python), the SLOs (their
# settings) and the alert rules' table, each with its alert bands where it has a time axis.
CHARTS = ("overview.accuracy", "ops.throughput", "drift.features", "ops.slos", "alerts.current")


@pytest.fixture
def shared(tmp_path) -> RecordingCache:
    return RecordingCache(tmp_path / "shared-results")


def figure_json(figure: dict) -> str:
    return json.dumps(figure, cls=PlotlyJSONEncoder, sort_keys=True)


def test_servers_that_differ_only_in_how_they_serve_share_every_entry(config, shared, tmp_path, monkeypatch):
    first = {c: render(get_chart(c), chart_args(c), Database(config, cache=shared)) for c in CHARTS}
    assert {key.split(":")[0] for key in shared.written} == {"q", "day", "m"}
    shared.forget()
    monkeypatch.setattr(Database, "_execute", no_queries)
    other = Database(serving_variant(config, tmp_path), cache=shared)
    for chart in CHARTS:
        again = render(get_chart(chart), chart_args(chart), other)
        pd.testing.assert_frame_equal(again.data, first[chart].data, obj=chart)
        assert figure_json(again.figure) == figure_json(first[chart].figure), chart
    assert shared.read and not shared.written  # every entry found, none computed again


def drift_status(db: Database) -> list[str]:
    args = chart_args("drift.features") | {"reference": ["reference"]}
    return list(render(get_chart("drift.features"), args, db).data["status"])


def test_a_setting_that_changes_results_recomputes_them_from_the_cached_queries(config, shared, monkeypatch):
    assert drift_status(Database(config, cache=shared)) == ["warning"]  # PSI 0.189: above 0.1, below 0.25
    shared.forget()
    monkeypatch.setattr(Database, "_execute", no_queries)
    stricter = Database(replace(config, drift_psi_warning=0.05, drift_psi_critical=0.15), cache=shared)
    assert drift_status(stricter) == ["critical"]
    assert shared.written and all(key.startswith("m:") for key in shared.written)  # memoized results only


def test_a_changed_sql_file_is_a_new_entry_and_the_same_file_elsewhere_is_not(config, shared, tmp_path, monkeypatch):
    db = Database(config, cache=shared)
    kept, edited = (shutil.copytree(QUERIES_DIR, tmp_path / name) for name in ("kept", "edited"))
    for name in ("ops_pipeline_runs", "ops_requests"):  # one whole query, one cached per day
        path = edited / f"{name}.sql"
        path.write_text(path.read_text() + "-- a deploy changed this file\n")
    params = {
        "ops_pipeline_runs": dict(ALL),
        "ops_requests": ALL | {"bucket": 3600, "symbol": [], "model_version": None},
    }
    answers = {name: db.run(name, **values) for name, values in params.items()}

    ran = []
    execute = Database._execute
    monkeypatch.setattr(
        Database, "_execute", lambda self, query, *args: ran.append(query.name) or execute(self, query, *args)
    )
    for name, values in params.items():
        query = load_query(name, kept)
        pd.testing.assert_frame_equal(db._run(query, values, db._sources_present(query.tables)), answers[name])
        assert ran == []
        query = load_query(name, edited)
        pd.testing.assert_frame_equal(db._run(query, values, db._sources_present(query.tables)), answers[name])
        assert ran == [name]
        ran.clear()
