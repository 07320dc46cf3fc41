"""The real server: gunicorn answers over HTTP, and a bad setting stops it with one line."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.browser.server import GUNICORN_CONFIG, ROOT, fetch


def test_gunicorn_serves_health_the_registry_and_chart_data(server):
    assert fetch(server.url + "/healthz") == (200, '{"ok":true}\n')
    status, body = fetch(server.url + "/api/charts")
    assert status == 200 and len(json.loads(body)["charts"]) >= 10
    status, body = fetch(server.url + "/api/charts/ops.latency?format=csv&start=now-3d")
    assert status == 200 and body.startswith("bucket,model_version,p50_ms,p95_ms,p99_ms,requests")


def test_a_bad_parameter_over_http_is_a_400_naming_it(server):
    status, body = fetch(server.url + "/api/charts/ops.latency?bucket=1s")
    assert status == 400
    assert json.loads(body)["param"] == "bucket"


def test_a_bad_setting_stops_gunicorn_with_one_line_naming_the_variable(tmp_path):
    gunicorn = str(__import__("pathlib").Path(sys.executable).parent / "gunicorn")
    result = subprocess.run(
        [gunicorn, "--config", GUNICORN_CONFIG, "--no-control-socket"],
        cwd=ROOT,
        env={"DASHAPP_DUCKDB_THREADS": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "dashapp: DASHAPP_DUCKDB_THREADS must be an integer, got 'lots'"


def test_metrics_sum_every_workers_requests_and_parse_as_prometheus_text(server):
    from prometheus_client.parser import text_string_to_metric_families

    def healthz_count() -> float:
        # The first scrape evaluates every metric cold on a server the page tests left busy (over 10 s once in CI).
        status, body = fetch(server.url + "/metrics", timeout=60)
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(body)}
        assert {"dashapp_alert", "dashapp_drift_psi", "dashapp_http_request_duration_seconds"} <= set(families)
        return sum(
            s.value
            for s in families["dashapp_http_requests"].samples
            if s.name.endswith("_total") and s.labels["route"] == "/healthz"
        )

    before = healthz_count()
    for _ in range(12):  # spread over both workers by gunicorn
        fetch(server.url + "/healthz")
    assert healthz_count() - before == 12  # whichever worker answers the scrape, it counts all of them


def test_a_malformed_alert_rules_file_stops_gunicorn_naming_the_rule_and_field(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "x"\nmetric = "ops.error_rate"\n')
    gunicorn = str(__import__("pathlib").Path(sys.executable).parent / "gunicorn")
    result = subprocess.run(
        [gunicorn, "--config", GUNICORN_CONFIG, "--no-control-socket"],
        cwd=ROOT,
        env={
            "DASHAPP_ALERT_RULES": str(rules),
            "DASHAPP_DATA_DIR": str(tmp_path),
            "DASHAPP_CACHE_DIR": str(tmp_path / "cache"),
            "DASHAPP_BIND": "127.0.0.1:0",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "rule 'x': comparison: missing" in result.stdout + result.stderr
