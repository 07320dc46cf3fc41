"""Prometheus' own tools against the real server: promtool lints /metrics, and a real Prometheus scrapes it.

Debian's prometheus package brings both (`make prometheus`, part of `make test`). Without them these tests fail
rather than skip: the exposition's conventions are only checked here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.server import ROOT, Server, fetch, free_port, wait_for


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make prometheus` (part of `make test`) installs Debian's prometheus")
    return path


def scrape(server) -> str:
    status, body = fetch(server.url + "/metrics")
    assert status == 200
    return body


def queries_run(body: str) -> dict:
    """dashapp_duckdb_queries_total's samples: {(query, route): count}."""
    families = [f for f in text_string_to_metric_families(body) if f.name == "dashapp_duckdb_queries"]
    return {(s.labels["query"], s.labels["route"]): s.value for f in families for s in f.samples}


def counted(server) -> str:
    """/metrics once a chart has run a query (now, or in an earlier test): the query counter has samples."""
    assert fetch(server.url + "/api/charts/ops.latency?format=csv&start=now-3d")[0] == 200
    return scrape(server)


def test_promtool_finds_nothing_in_metrics_and_a_scrape_runs_no_query(server):
    body = counted(server)
    empty = [f.name for f in text_string_to_metric_families(body) if not f.samples]
    assert not empty  # promtool sees every family's labels, not only its name
    lint = subprocess.run(
        [binary("promtool"), "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")

    before = queries_run(body)
    for _ in range(10):
        after = queries_run(scrape(server))
    assert before and after == before  # a scrape reads the alert store: no query runs, whichever worker answers


def test_a_real_prometheus_scrapes_the_alert_states_and_the_named_metrics(server, tmp_path):
    config = tmp_path / "prometheus.yml"
    target = server.url.removeprefix("http://")
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs: [{{job_name: dashapp, static_configs: [{{targets: ['{target}']}}]}}]\n"
    )
    port = free_port()
    log = tmp_path / "prometheus.log"
    before = queries_run(counted(server))
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(promql: str) -> list[dict]:
        status, body = fetch(f"{api}/query?{urllib.parse.urlencode({'query': promql})}", timeout=10)
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def scraped(times: int) -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return bool(query(f'count_over_time(up{{job="dashapp"}}[1m]) >= {times}'))
        except OSError:
            return False  # not listening yet

    try:
        # Prometheus takes up new targets on a 5-second tick: its first scrape comes 5 to 6 s after it starts.
        wait_for(lambda: scraped(3), f"Prometheus to scrape /metrics 3 times (its log: {log})", timeout=30)
        status, body = fetch(f"{api}/targets")
        (active,) = json.loads(body)["data"]["activeTargets"]
        assert (active["health"], active["lastError"]) == ("up", "")

        drifting = query('dashapp_alert{alertname="feature_drift", alertstate="firing"}')
        # The demo's drift goes on to its end.
        assert {s["metric"]["feature"]: s["metric"]["severity"] for s in drifting}.get("vix") == "critical"
        assert query('dashapp_drift_psi{feature="vix"} > 0.25')
        assert query("dashapp_alert_evaluations_total > 0")
        assert query("dashapp_service_up_ratio{service_instance='db-0'}")
        assert not query('{job="dashapp", exported_instance!=""}')  # no label Prometheus had to rename
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert before and queries_run(scrape(server)) == before  # Prometheus' scrapes ran no query either


def readme_rules() -> str:
    """The alerting rules README.md gives under "Prometheus alerting rules" (its first yaml block)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Prometheus alerting rules") :]
    return section[section.index("```yaml\n") + len("```yaml\n") : section.index("\n```", section.index("```yaml"))]


# A firing critical, a pending warning (no alert), a rule in error for 40 minutes, a scheduler that stopped 20 minutes
# ago, and a scrape target that went down: what each rule makes of them, as promtool's unit tests say.
RULE_TESTS = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'dashapp_alert{job="dashapp", instance="portal:8050", alertname="feature_drift", alertstate="firing",
          severity="critical", feature="vix"}'
        values: '1x60'
      - series: 'dashapp_alert{job="dashapp", instance="portal:8050", alertname="latency_p95", alertstate="pending",
          severity="", model_version="sent-v1.4.2"}'
        values: '1x60'
      - series: 'dashapp_alert{job="dashapp", instance="portal:8050", alertname="freshness", alertstate="error",
          severity=""}'
        values: '1x60'
      - series: 'dashapp_alert_last_evaluation_timestamp_seconds{job="dashapp", instance="portal:8050"}'
        values: '0+60x40 2400x20'
      - series: 'up{job="dashapp", instance="portal:8050"}'
        values: '1x50 0x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: DashappAlert
        exp_alerts:
          - exp_labels: {job: dashapp, instance: "portal:8050", rule: feature_drift,
              alertstate: firing, severity: critical, feature: vix, source: dashapp}
            exp_annotations:
              summary: "dashapp feature_drift is firing (critical)"
              description: "See the portal's Alerts page for the value, the threshold and what to do."
      - eval_time: 40m
        alertname: DashappRuleError
        exp_alerts:
          - exp_labels: {job: dashapp, instance: "portal:8050", rule: freshness,
              alertstate: error, severity: warning, source: dashapp}
            exp_annotations:
              summary: "dashapp cannot evaluate freshness (a missing table or a deadline)"
      - eval_time: 30m
        alertname: DashappEvaluatorLate
        exp_alerts: []
      - eval_time: 59m
        alertname: DashappEvaluatorLate
        exp_alerts:
          - exp_labels: {job: dashapp, instance: "portal:8050", severity: warning, source: dashapp}
            exp_annotations:
              summary: "dashapp's alert scheduler has not evaluated for 19m 0s"
      - eval_time: 57m
        alertname: DashappDown
        exp_alerts:
          - exp_labels: {job: dashapp, instance: "portal:8050", severity: critical, source: dashapp}
            exp_annotations:
              summary: "portal:8050 does not answer /metrics"
"""


def test_the_readmes_alerting_rules_pass_promtool_and_fire_on_dashapp_alert(tmp_path):
    (tmp_path / "rules.yml").write_text(readme_rules())
    check = subprocess.run([binary("promtool"), "check", "rules", str(tmp_path / "rules.yml")], capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    (tmp_path / "tests.yml").write_text(RULE_TESTS)
    tested = subprocess.run([binary("promtool"), "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True)
    assert tested.returncode == 0, tested.stdout.decode() + tested.stderr.decode()


def healthz_answered(body: str) -> float:
    answered = [s for f in text_string_to_metric_families(body) if f.name == "dashapp_http_requests" for s in f.samples]
    return sum(s.value for s in answered if s.name.endswith("_total") and s.labels["route"] == "/healthz")


def test_recycled_workers_leave_their_counts_and_no_files(shared_config, tmp_path):
    """gunicorn's child_exit adds an exited worker's counts into the archive files and removes its own."""
    server = Server(
        shared_config.data_dir,
        tmp_path / "cache",
        DASHAPP_METRICS_DIR=str(tmp_path),
        GUNICORN_CMD_ARGS="--max-requests 15 --max-requests-jitter 3",
    ).wait()
    try:
        before = healthz_answered(scrape(server))  # wait() asked it too
        for _ in range(120):
            assert fetch(server.url + "/healthz")[0] == 200
        body = scrape(server)
        folder = tmp_path / f"dashapp-metrics-{server.process.pid}"
        live = {child.pid for child in psutil.Process(server.process.pid).children()}
        names = sorted(p.name for p in folder.glob("*.db"))
        live |= {child.pid for child in psutil.Process(server.process.pid).children()}  # one may have come meanwhile
    finally:
        server.stop()
    log = server.log.read_text()
    assert log.count("Booting worker") >= 8  # recycled, again and again
    assert healthz_answered(body) - before == 120  # nothing lost with the exited workers, nothing counted twice
    kept = {name.rsplit("_", 1)[1].removesuffix(".db") for name in names}
    assert "archive" in kept and kept - {"archive"} <= {str(pid) for pid in live}
    assert not (tmp_path / f"dashapp-metrics-{server.process.pid}").exists()  # removed when gunicorn stopped
