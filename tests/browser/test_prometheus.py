"""Prometheus' own tools against the real server: promtool lints /metrics, and a real Prometheus scrapes it.

Debian's prometheus package brings both (`make prometheus`, part of `make test`). Without them these tests fail
rather than skip: the exposition's conventions are only checked here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.server import fetch, free_port, wait_for


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
