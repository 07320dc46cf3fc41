"""The tearsheet download as a background callback in Chromium, with each manager.

Without a broker (the shared server, on the demo), gunicorn's workers fork a process per job (DiskcacheManager). With
DASHAPP_CELERY_BROKER_URL, a real redis-server, gunicorn and `celery -A dashapp.celery_app worker` run on
loopback for the module and are stopped after it; the worker has a cache folder of its own, so a report
it delivers was built by it, not read from the portal's cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.panels import wait_for_panels
from tests.browser.server import REDIS_SERVER, CeleryProcess, RedisServer, Server, wait_for

RUN = "bt-ppo-2.1"  # a run of the fixture tables, for the Celery portal
# The panels' alert bands left out: the page draws faster, and the report is what these tests are about.
PAGE = "/backtests?alerts=hide&focus=" + RUN
TASK = re.compile(r"Task (background_callback_[0-9a-f]{64})\[([0-9a-f-]+)\] (received|succeeded)")
SIGNING_SECRET = "__dash_background_signing_secret__"


def download_tearsheet_showing_progress(page, filename: str, screenshot: str) -> str:
    """Click "Download tearsheet", see its progress (saved as tests/artifacts/<screenshot>.png), return the HTML.

    The report must not be cached yet: QuantStats then takes seconds, and the browser polls every 0.5 s. The page's
    panels must be drawn: while they load, the browser's six connections to the host are busy with them, its polls
    wait, and a fast job can end before the first poll brings its stage.
    """
    button, running = page.locator("#tearsheet-button"), page.locator("#tearsheet-running")
    # Generous waits: with the suite's other worker busy on the same cores, the forked job takes its time to start.
    with page.expect_download(timeout=150_000) as download:
        button.click()
        expect(running).to_be_visible()
        expect(button).to_be_disabled()
        expect(page.locator("#tearsheet-stage")).to_have_text(
            "Building the tearsheet: QuantStats computing metrics and drawing charts…", timeout=90_000
        )
        expect(page.locator("#tearsheet-progress .progress-bar")).to_have_attribute("aria-valuenow", "75")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{screenshot}.png"))
    assert download.value.suggested_filename == filename
    expect(page.locator("#tearsheet-status")).to_have_text(f"{filename} downloaded.")
    expect(running).to_be_hidden()
    expect(button).to_be_enabled()
    report = open(download.value.path(), encoding="utf-8").read()
    assert "<!DOCTYPE html>" in report[:200] and report.rstrip().endswith("</html>")
    return report


def start_then_cancel(page) -> None:
    """Click "Download tearsheet" (the page's panels drawn), wait for QuantStats' stage, click Cancel: the page goes
    back to its button."""
    button = page.locator("#tearsheet-button")
    button.click()
    expect(page.locator("#tearsheet-stage")).to_contain_text("QuantStats computing metrics")
    page.locator("#tearsheet-cancel").click()
    expect(page.locator("#tearsheet-running")).to_be_hidden()
    expect(button).to_be_enabled()
    expect(page.locator("#tearsheet-status")).to_have_text("")


def no_traceback(*logs: Path) -> None:
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()[-4000:]


@pytest.fixture(scope="module")
def demo_run(demo_dir) -> tuple[str, Callable[[int], str]]:
    """(run id, a query string) for one of the shared demo's three-year backtests, whose dates follow the day the
    demo was made: the Backtests page from a given number of days before the run's last day."""
    import pandas as pd

    runs = pd.read_parquet(demo_dir / "backtest_runs.parquet")
    run_id = sorted(runs.loc[runs["kind"] == "backtest", "run_id"])[-1]
    last = pd.read_parquet(demo_dir / "backtest_returns.parquet", filters=[("run_id", "==", run_id)])["ts"].max()

    def page_from(days: int) -> str:
        return f"/backtests?alerts=hide&focus={run_id}&from={(pd.Timestamp(last) - pd.Timedelta(days=days)):%Y-%m-%d}"

    return run_id, page_from


@pytest.fixture(scope="module")
def celery_portal(shared_config, tmp_path_factory):
    """(gunicorn, worker, redis) with DASHAPP_CELERY_BROKER_URL set in both."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: `make test` installs Debian's redis-server")
    folder = tmp_path_factory.mktemp("celery")
    redis_server = RedisServer(folder / "redis").start()
    env = {"DASHAPP_CELERY_BROKER_URL": redis_server.url}
    worker_env = {"DASHAPP_DATA_DIR": str(shared_config.data_dir), "DASHAPP_CACHE_DIR": str(folder / "worker-cache")}
    worker = CeleryProcess(folder / "worker", "worker", **worker_env, **env)  # both start at once: each takes seconds
    server = Server(shared_config.data_dir, folder / "portal", **env)
    try:
        yield server.wait(), worker.wait(), redis_server
    finally:
        with ThreadPoolExecutor() as pool:  # each waits seconds for its processes to finish
            list(pool.map(lambda process: process.stop(), (server, worker)))
        redis_server.stop()
    no_traceback(server.log, worker.log)


def test_without_a_broker_a_forked_job_builds_the_tearsheet_while_the_page_shows_its_progress(server, demo_run, page):
    run_id, page_from = demo_run
    page.goto(server.url + page_from(365))
    wait_for_panels(page, "/backtests")
    report = download_tearsheet_showing_progress(page, f"{run_id}-tearsheet.html", "tearsheet-progress-diskcache")
    assert "generated by QuantStats" in report and f"<h1>{run_id} tearsheet" in report
    assert (server.log.parent / "background" / "cache.db").exists()  # the jobs' diskcache, which every worker reads
    assert page.console_errors == []


def test_without_a_broker_cancel_stops_the_forked_job(server, demo_run, page):
    page.goto(server.url + demo_run[1](500))
    wait_for_panels(page, "/backtests")
    start_then_cancel(page)
    assert page.console_errors == []


def test_the_celery_worker_builds_the_tearsheet_while_the_page_shows_its_progress(celery_portal, page):
    portal, worker, redis_server = celery_portal
    page.goto(f"{portal.url}{PAGE}&from=2023-05-01")
    wait_for_panels(page, "/backtests")
    report = download_tearsheet_showing_progress(page, f"{RUN}-tearsheet.html", "tearsheet-progress-celery")
    assert "generated by QuantStats" in report and f"<h1>{RUN} tearsheet" in report and "2023" in report
    (name, task_id, _), *_ = tasks = TASK.findall(worker.text())
    assert tasks == [(name, task_id, "received"), (name, task_id, "succeeded")]
    assert not (portal.log.parent / "background").exists()  # the portal forked no job of its own
    # The secret that signs job handles is set once in Redis, without expiry, for every gunicorn worker.
    assert redis_server.client().ttl(SIGNING_SECRET) == -1
    assert page.console_errors == []


def test_cancel_terminates_the_celery_workers_job_which_is_not_run_again(celery_portal, page):
    portal, worker, _ = celery_portal
    page.goto(f"{portal.url}{PAGE}&from=2023-07-03")
    wait_for_panels(page, "/backtests")
    before = len(TASK.findall(worker.text()))
    start_then_cancel(page)
    wait_for(lambda: "Terminating" in worker.text(), "the worker to terminate the job")
    (_, task_id, what), *more = TASK.findall(worker.text())[before:]
    assert what == "received" and more == []  # neither finished nor requeued
    assert f"Terminating {task_id}" in worker.text()
    assert page.console_errors == []
