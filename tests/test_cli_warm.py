"""`dashapp warm` and dashapp/warm.py: every chart's default views rendered into the cache, for a cron job or a
scheduler after new data arrives."""

from __future__ import annotations

from datetime import datetime

from dashapp.charts import REGISTRY, registry, render
from dashapp.cli import main
from dashapp.db import Database
from dashapp.warm import warm_default_views
from tests.fixtures import RecordingCache, no_queries

NOW = datetime(2024, 3, 4)  # the default window, now-7d, then holds the fixture's three days


def test_warm_renders_every_chart_once_per_window_and_windowless_charts_once(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DASHAPP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["warm", "--days", "7", "30", "--strict"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    views = {(line[0], line[1]) for line in lines}
    for chart_id, spec in REGISTRY.items():
        windowed = any(p.name == "start" for p in spec.params)
        assert {v for c, v in views if c == chart_id} == ({"7d", "30d"} if windowed else {"all"}), chart_id
    assert len(lines) == len(views)
    assert any((tmp_path / "cache").iterdir())


def test_warm_strict_fails_when_a_chart_cannot_be_computed(data_dir, tmp_path, monkeypatch, capsys):
    (data_dir / "pipeline_runs.parquet").unlink()
    monkeypatch.setenv("DASHAPP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["warm", "--days", "7", "--strict"]) == 1
    assert "ops.pipeline_runs          7d  skipped: pipeline_runs: no parquet files" in capsys.readouterr().out


def windowed(spec) -> bool:
    return any(p.name == "start" for p in spec.params)


def test_the_warmed_views_are_what_a_first_visitor_sees(config, tmp_path, monkeypatch):
    """A page opened without a query string renders each chart from `{}`: after a warm that runs no query and
    computes nothing, whichever windows were asked for; the explicit start=now-7d reads the very same entries."""
    monkeypatch.setattr(registry, "utc_now", lambda: NOW)  # one window throughout (a clock could cross a bucket)
    cache = RecordingCache(tmp_path / "results")
    db = Database(config, cache=cache)
    results = warm_default_views(db, days=(30,))
    assert [r for r in results if r.skipped] == []
    assert {(r.chart_id, r.view) for r in results} == {
        (c, view) for c, spec in REGISTRY.items() for view in (("7d", "30d") if windowed(spec) else ("all",))
    }
    monkeypatch.setattr(Database, "_execute", no_queries)
    for spec in REGISTRY.values():
        cache.forget()
        render(spec, {}, db)
        first_visit = list(cache.read)
        assert first_visit and not cache.written, spec.id
        if windowed(spec):
            cache.forget()
            render(spec, {"start": ["now-7d"]}, db)
            assert cache.read == first_visit and not cache.written, spec.id
