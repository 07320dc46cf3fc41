"""Readiness and the data folder's failures: gone, empty, unreadable, partly broken; each said apart, each recovered
from without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dashapp.contract import TABLES
from tests.fixtures import ALL

WINDOW = f"start={ALL['start']:%Y-%m-%d}&end={ALL['end']:%Y-%m-%d}"
ROOT = Path(__file__).resolve().parents[2]


def test_ready_with_every_table_readable_and_still_ready_when_one_is_missing(client, data_dir):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["duckdb"] == "ok" and body["data_folder"] == "ok"
    assert body["tables"]["predictions"] == {"status": "ok", "files": 3, "skipped": 0}
    assert {t["status"] for t in body["tables"].values()} == {"ok"}
    (data_dir / "trades.parquet").unlink()
    (data_dir / "training_metrics.parquet").unlink()
    body = client.get("/readyz").get_json()
    assert body["ok"] is True and body["tables"]["trades"]["status"] == "missing"
    assert body["tables"]["training_metrics"]["status"] == "absent"  # optional: no fault


def test_a_broken_file_makes_its_table_partial_and_the_portal_still_ready(client, data_dir):
    (data_dir / "predictions" / "dt=2024-03-02" / "part-0.parquet").write_bytes(b"garbage")
    body = client.get("/readyz").get_json()
    assert body["ok"] is True
    assert body["tables"]["predictions"] == {"status": "partial", "files": 2, "skipped": 1}


def test_a_vanished_data_folder_fails_readiness_and_says_data_unavailable_then_recovers(client, data_dir, tmp_path):
    moved = shutil.move(data_dir, tmp_path / "elsewhere")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["data_folder"] == "not there"
    chart = client.get(f"/api/charts/ops.latency?{WINDOW}")
    assert chart.status_code == 503 and "the data folder is not there (data unavailable)" in chart.get_json()["error"]
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    shutil.move(moved, data_dir)
    assert client.get("/readyz").status_code == 200
    assert client.get(f"/api/charts/ops.latency?{WINDOW}").status_code == 200


def test_an_empty_data_folder_fails_readiness_and_each_table_says_it_has_no_files(client, data_dir):
    for child in data_dir.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["data_folder"] == "ok"
    statuses = {name: t["status"] for name, t in response.get_json()["tables"].items()}
    assert statuses == {name: "absent" if TABLES[name].may_be_absent else "missing" for name in TABLES}
    error = client.get(f"/api/charts/ops.latency?{WINDOW}").get_json()["error"]
    assert "no parquet files at predictions/ or predictions.parquet" in error


def test_a_range_without_data_is_not_the_same_message_as_missing_data(client):
    body = client.get("/api/charts/ops.latency?start=2023-01-01&end=2023-01-02").get_json()
    assert body["ok"] is True and "unavailable" not in json.dumps(body)
    assert body["figure"]["layout"]["annotations"][0]["text"] == "No requests in this window"


SCAN_WITHOUT_PRIVILEGE = """
import sys
from datetime import datetime
from pathlib import Path
from dashapp.config import Config
from dashapp.db import Database
from dashapp.errors import DataUnavailable
db = Database(Config(data_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), cache_type="null"))
window = {"start": datetime(2024, 3, 1), "end": datetime(2024, 3, 4)}
db.run("ops_pipeline_runs", **window)
print("pipeline_runs ok")
try:
    db.run("ops_requests", **window, bucket=86400, symbol=[], model_version=None)
except DataUnavailable as exc:
    print(exc.message)
"""


def test_an_unreadable_table_folder_is_named_as_unreadable(data_dir, tmp_path):
    """Root reads everything, so as root the scan runs without the capabilities that override file modes."""
    (data_dir / "predictions").chmod(0o000)
    caps = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"] if os.geteuid() == 0 else []
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-c", SCAN_WITHOUT_PRIVILEGE, str(data_dir), str(tmp_path / "cache")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        (data_dir / "predictions").chmod(0o755)
    lines = result.stdout.splitlines()
    assert lines[0] == "pipeline_runs ok", result.stderr[-2000:]
    assert lines[1] == "predictions: no readable parquet file: predictions/: cannot be read (Permission denied)"
