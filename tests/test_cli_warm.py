"""`dashapp warm`: every chart's default views rendered into the cache, for a cron job."""

from __future__ import annotations

from dashapp.charts import REGISTRY
from dashapp.cli import main


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
