"""The cache folder fails under a running gunicorn (catalogue item 22): no space, read-only, removed.

Each test mounts a small tmpfs of its own (so it needs root; skipped otherwise), puts the cache folder (and, where
the test says, the Prometheus files) on it, serves the fixture tables with a real gunicorn (tests/browser/server.py)
whose log and alert state live elsewhere, breaks the volume, and checks that every page, chart, /metrics and /readyz
answer, that /readyz names what is degraded, that the failure is logged once per worker, that no worker died (the
same pids, no SIGBUS) and that caching resumes when the volume is back.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from tests.browser.server import Server, fetch, wait_for
from tests.fixtures import chart_args, fill

CHARTS = ("ops.latency", "ops.error_rate", "overview.volume", "sentiment.accuracy", "quality.rows")
PAGES = ("/", "/quality", "/drift", "/sentiment", "/backtests", "/correlation", "/operations", "/alerts")
APIS = ("/metrics", "/api/alerts", "/api/charts")
FOLDER_FAILED = re.compile(r"the cache folder \S+ failed in process (\d+)")
DIED = ("Worker exited", "was sent", "SIGBUS", "Traceback", "Worker failed to boot")


def chart_urls(days: int = 0) -> list[str]:
    """The charts over the fixture data; `days` > 0 asks them over a wider window, which nothing has cached."""
    urls = []
    for chart in CHARTS:
        args = chart_args(chart)
        if days:
            args = args | {"start": [f"2024-02-{29 - days:02d}"]}
        urls.append(f"/api/charts/{chart}?{urlencode(args, doseq=True)}")
    return urls


def served(server: Server, urls) -> None:
    """Every URL answers 200, without a trace of the failure in its body."""
    for path in urls:
        status, body = fetch(server.url + path, timeout=60)
        assert status == 200, (path, body[:300])
        assert "Traceback" not in body and "internal error" not in body, path


def readiness(server: Server) -> dict:
    status, body = fetch(server.url + "/readyz")
    assert status == 200, body  # degraded, still serving: it stays in the load balancer
    return json.loads(body)


def workers(server: Server) -> set[int]:
    return {child.pid for child in psutil.Process(server.process.pid).children()}


def assert_no_worker_died(server: Server, pids: set[int]) -> None:
    assert workers(server) == pids
    log = server.log.read_text()
    assert log.count("Booting worker") == 2 and not [word for word in DIED if word in log], log[-3000:]


def entries(cache_dir: Path) -> int:
    results = cache_dir / "results"
    return len(list(results.iterdir())) if results.is_dir() else 0


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def portal(shared_config, tmp_path):
    """Start gunicorn over the fixture tables with its log and alert state outside the volume; stopped at the end."""
    servers = []

    def start(cache_dir: Path, **env) -> Server:
        logs = tmp_path / f"logs-{len(servers)}"
        logs.mkdir()
        env = {"DASHAPP_STATE_DIR": str(shared_config.state_dir), "DASHAPP_METRICS_DIR": str(tmp_path)} | env
        servers.append(Server(shared_config.data_dir, cache_dir, log_dir=logs, **env))
        return servers[-1].wait()

    yield start
    for server in servers:
        server.stop()


def test_a_full_cache_folder_serves_everything_uncached_and_caches_again_once_there_is_room(volume, portal):
    cache_dir = volume / "cache"
    server = portal(cache_dir)
    pids = workers(server)
    served(server, [*PAGES, *chart_urls()])
    assert entries(cache_dir) > 0 and readiness(server)["degraded"] == {}

    filler = fill(volume)
    for days in (1, 2, 3):  # windows nothing has cached, over both workers
        served(server, [*PAGES, *APIS, *chart_urls(days)])
    ready = readiness(server)
    assert ready["ok"] and ready["degraded"] == {"results cache": "OSError: No space left on device"}
    assert str(volume) not in json.dumps(ready)  # /readyz names no file
    warnings = FOLDER_FAILED.findall(server.log.read_text())
    assert 1 <= len(warnings) == len(set(warnings)) <= 2  # once per worker, not per request
    assert_no_worker_died(server, pids)

    filler.unlink()
    wait_for(lambda: readiness(server)["degraded"] == {}, "the results cache to work again", timeout=30)
    before = entries(cache_dir)

    def caches_again() -> bool:
        served(server, chart_urls(4))
        return entries(cache_dir) > before

    # Caching again, without a restart. /readyz answered from one worker: the other may take a request or two
    # more to find its folder writable again.
    wait_for(caches_again, "a worker to cache a new window again", timeout=60)
    assert "is back in process" in server.log.read_text()
    assert_no_worker_died(server, pids)


def test_a_full_volume_under_the_cache_and_the_prometheus_files_at_start_crashes_no_worker(volume, portal):
    """The operator's crash loop: the Prometheus files were mapped on a full tmpfs and every worker died of SIGBUS."""
    fill(volume)
    server = portal(volume / "cache", DASHAPP_METRICS_DIR=str(volume))
    pids = workers(server)
    for days in (0, 1):
        served(server, [*PAGES, *APIS, *chart_urls(days)])
    status, body = fetch(server.url + "/metrics")
    assert status == 200 and "dashapp_alert{" in body  # the alert states, read from the state store
    degraded = readiness(server)["degraded"]
    assert degraded["results cache"] == "OSError: No space left on device"
    assert degraded["prometheus files"] == "OSError: No space left on device"
    assert_no_worker_died(server, pids)


def test_a_cache_folder_turned_read_only_serves_everything_uncached_until_it_is_writable_again(volume, portal):
    cache_dir = volume / "cache"
    server = portal(cache_dir)
    pids = workers(server)
    served(server, [*PAGES, *chart_urls()])
    # A remount fails while a file on the volume is open for writing (a request's cache write): try again.
    remount = ["mount", "-o", "remount,ro", str(volume)]
    wait_for(lambda: subprocess.run(remount, capture_output=True).returncode == 0, "a read-only remount")
    for days in (1, 2, 3):
        served(server, [*PAGES, *APIS, *chart_urls(days)])
    ready = readiness(server)
    assert ready["ok"] and ready["degraded"]["results cache"] == "OSError: Read-only file system"
    assert_no_worker_died(server, pids)

    mount("-o", "remount,rw", str(volume))
    wait_for(lambda: readiness(server)["degraded"] == {}, "the cache folder to work again", timeout=30)
    before = entries(cache_dir)
    served(server, chart_urls(4))
    assert entries(cache_dir) > before
    assert_no_worker_died(server, pids)


def test_a_cache_folder_removed_while_serving_is_made_again_and_caching_goes_on(volume, portal):
    cache_dir = volume / "cache"
    server = portal(cache_dir, DASHAPP_METRICS_DIR=str(volume))
    pids = workers(server)
    served(server, [*PAGES, *chart_urls()])
    requests_before = request_count(server)

    for folder in volume.iterdir():  # the cache folder and the Prometheus files' folder
        shutil.rmtree(folder)
    served(server, [*PAGES, *APIS, *chart_urls(1)])
    assert entries(cache_dir) > 0  # made again by the next write
    # Each worker finds its files gone within a few seconds, and writes all it counted into new ones.
    wait_for(lambda: request_count(server, asked=True) > requests_before, "the counts back in the files")
    wait_for(lambda: readiness(server)["degraded"] == {}, "nothing degraded", timeout=30)
    assert_no_worker_died(server, pids)


def request_count(server: Server, asked: bool = False) -> float:
    """All HTTP requests answered, summed over the workers, from /metrics (`asked`: after asking both workers)."""
    if asked:
        served(server, ["/healthz"] * 4)
    status, body = fetch(server.url + "/metrics")
    assert status == 200
    samples = [line for line in body.splitlines() if line.startswith("dashapp_http_requests_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in samples)
