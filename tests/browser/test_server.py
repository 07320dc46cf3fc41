"""The real server: gunicorn answers over HTTP, and a bad setting stops it with one line."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

from tests.browser.server import ROOT


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_gunicorn_serves_health_the_registry_and_chart_data(server):
    assert get(server.url + "/healthz") == (200, b'{"ok":true}\n')
    status, body = get(server.url + "/api/charts")
    assert status == 200 and len(json.loads(body)["charts"]) >= 10
    status, body = get(server.url + "/api/charts/ops.latency?format=csv&start=now-3d")
    assert status == 200 and body.startswith(b"bucket,model_version,p50_ms,p95_ms,p99_ms,requests")


def test_a_bad_parameter_over_http_is_a_400_naming_it(server):
    status, body = get(server.url + "/api/charts/ops.latency?bucket=1s")
    assert status == 400
    assert json.loads(body)["param"] == "bucket"


def test_a_bad_setting_stops_gunicorn_with_one_line_naming_the_variable(tmp_path):
    gunicorn = str(__import__("pathlib").Path(sys.executable).parent / "gunicorn")
    result = subprocess.run(
        [gunicorn, "--config", str(ROOT / "gunicorn.conf.py"), "--no-control-socket"],
        cwd=ROOT,
        env={"DASHAPP_DUCKDB_THREADS": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "dashapp: DASHAPP_DUCKDB_THREADS must be an integer, got 'lots'"
