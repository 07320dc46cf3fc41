"""The portal under real gunicorn with its data folder on an object store: a small demo in moto_server (a real S3 API
on loopback), read through s3fs with the standard AWS variables. The same numbers as the same demo on disk, a new
object redraws, a store that stops answering is a clear 503 (no traceback, no worker lost, no secret anywhere) and
recovers, and `dashapp check` names a prefix without contract tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.server import ROOT, MotoServer, Server, fetch, wait_for

BUCKET, PREFIX = "portal", "logs/demo"
# Whole days around the demo (it ends when it is written): both servers answer for the same fixed window.
_END = datetime.now(UTC).date() + timedelta(days=2)
WINDOW = f"start={_END - timedelta(days=6):%Y-%m-%d}&end={_END:%Y-%m-%d}"
CHARTS = ("ops.latency", "ops.throughput", "ops.service_uptime", "overview.volume", "overview.label_mix")


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo-s3")
    command = [sys.executable, "-m", "dashapp.cli", "demo", "--out", str(out), "--rows", "20000", "--days", "3"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def url(moto, demo) -> str:
    return moto.upload(demo, BUCKET, PREFIX)


@pytest.fixture(scope="module")
def servers(moto, url, demo, tmp_path_factory):
    """(the portal on the object store, the portal on the same demo on disk)."""
    remote = Server(url, tmp_path_factory.mktemp("cache-s3"), **moto.env)
    local = Server(demo, tmp_path_factory.mktemp("cache-local"))
    both = (remote.wait(timeout=120), local.wait(timeout=120))
    yield both
    for server in both:
        server.stop()
    log = remote.log.read_text()
    assert "Traceback" not in log, log[-4000:]
    assert moto.secret not in log


def check(env: dict, data: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashapp.cli", "check", "--data", data],
        cwd=ROOT,
        env={**_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _environ() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DASHAPP_", "AWS_"))}


@pytest.mark.parametrize("chart", CHARTS)
def test_a_chart_from_the_object_store_answers_with_the_same_numbers_as_from_disk(servers, chart):
    remote, local = servers
    query = f"/api/charts/{chart}?format=csv&{WINDOW}"
    from_store, from_disk = fetch(remote.url + query), fetch(local.url + query)
    assert from_store[0] == 200, from_store[1][:500]
    assert len(from_store[1].splitlines()) > 1
    assert from_store == from_disk


def test_readiness_reports_the_store_and_its_tables(servers, demo):
    status, body = fetch(servers[0].url + "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["data_folder"] == "ok" and ready["duckdb"] == "ok"
    files = len(list((demo / "predictions").glob("dt=*/*.parquet")))
    assert ready["tables"]["predictions"] == {"status": "ok", "files": files, "skipped": 0}


def test_a_new_object_changes_the_fingerprint_and_the_chart(moto, demo, servers):
    remote, _ = servers
    query = remote.url + f"/api/charts/ops.throughput?format=csv&{WINDOW}"
    before = fetch(query)[1]
    files = json.loads(fetch(remote.url + "/readyz")[1])["tables"]["predictions"]["files"]
    newest = sorted((demo / "predictions").iterdir())[-1]
    # A second file in the newest day's partition: the same rows again, so that day's requests double.
    target = f"{BUCKET}/{PREFIX}/predictions/{newest.name}/part-1.parquet"
    moto.filesystem().put_file(str(newest / "part-0.parquet"), target)
    wait_for(lambda: fetch(query)[1] != before, "the chart to read the new object")
    # The other worker may still answer from its listing of a moment ago: its next listing shows the object too.
    ready = remote.url + "/readyz"
    wait_for(lambda: json.loads(fetch(ready)[1])["tables"]["predictions"]["files"] == files + 1, "readyz to count it")


def test_dashapp_check_reads_the_prefix_and_names_one_without_contract_tables(moto, url):
    found = check(moto.env, url)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "predictions" in found.stdout and "ok" in found.stdout
    empty = check(moto.env, f"s3://{BUCKET}/logs/nothing-here")
    assert empty.returncode == 1
    assert f"no contract table at s3://{BUCKET}/logs/nothing-here/" in empty.stdout
    assert moto.secret not in found.stdout + found.stderr + empty.stdout + empty.stderr


def test_a_store_that_stops_answering_fails_readiness_and_the_panels_say_so_then_recovers(moto, demo, servers):
    remote, _ = servers
    workers = remote.log.read_text().count("Booting worker")
    moto.stop()
    try:
        # Each worker finds the store gone at its own next listing: ask until several answers in a row say so.
        wait_for(lambda: all(fetch(remote.url + "/readyz")[0] == 503 for _ in range(4)), "readiness to fail")
        ready = json.loads(fetch(remote.url + "/readyz")[1])
        assert ready["ok"] is False and ready["data_folder"] == "unreachable"
        # A worker that listed moments ago answers from that listing while it lists again in the background.
        chart = remote.url + f"/api/charts/ops.latency?format=json&{WINDOW}&bucket=1h"
        wait_for(lambda: all(fetch(chart)[0] == 503 for _ in range(4)), "every worker to find the store gone")
        status, body = fetch(chart)
        error = json.loads(body)
        assert status == 503 and error["error"].startswith("predictions: the object store cannot be reached: ")
        embed = remote.url + f"/embed/ops.error_rate?{WINDOW}"
        wait_for(lambda: "the object store cannot be reached" in fetch(embed)[1], "the embed to say the store is gone")
        page = fetch(embed)[1]
        for text in (body, page, json.dumps(ready)):
            assert "Traceback" not in text and moto.secret not in text
        assert fetch(remote.url + "/healthz")[0] == 200
    finally:
        moto.start()  # empty: a restarted moto keeps nothing
        moto.upload(demo, BUCKET, PREFIX)
    wait_for(lambda: fetch(remote.url + "/readyz")[0] == 200, "readiness to come back")
    # Each worker finds the store again at its own next listing (within LISTING_SECONDS): the one that answered
    # /readyz may not be the one that answers the chart.
    chart = remote.url + f"/api/charts/ops.latency?format=csv&{WINDOW}"
    wait_for(lambda: all(fetch(chart)[0] == 200 for _ in range(4)), "every worker to read the store again")
    assert remote.log.read_text().count("Booting worker") == workers  # no worker died on the way
    assert moto.secret not in remote.log.read_text()
