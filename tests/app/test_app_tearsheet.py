"""The tearsheet download as a background callback: its stages, its managers, and Dash's polling protocol.

The browser tests drive it in Chromium against gunicorn, with each manager (test_pages.py, and
test_tearsheet_celery.py with a real Redis and Celery worker).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from celery import Celery
from celery.app.utils import find_app
from dash import CeleryManager, DiskcacheManager, no_update

from dashapp import celery_app, create_app
from dashapp.background import SharedSecretCeleryManager, background_manager, job_scope
from dashapp.backtest.tearsheet import STAGES
from dashapp.config import Config
from dashapp.errors import ConfigError
from dashapp.pages.backtests import download_tearsheet, progress_reporter

SEARCH = "?run=bt-ppo-2.1&from=2023-06-01"
BROKER = "redis://:hunter2@127.0.0.1:1/0"  # nothing listens there: building a manager connects to nothing


# -- the callback's function, called as a plain function ------------------------------------------


def test_a_report_is_built_through_each_stage_in_order_and_delivered_as_a_download(shared_db):
    heard = []
    download, status = download_tearsheet(SEARCH, shared_db, heard.append)
    assert heard == list(STAGES)
    assert download["filename"] == "bt-ppo-2.1-tearsheet.html" and download["type"] == "text/html"
    assert "<h1>bt-ppo-2.1 tearsheet" in download["content"] and "2023" in download["content"]
    assert status == "bt-ppo-2.1-tearsheet.html downloaded."


def test_a_cached_report_needs_only_the_first_stage(app):
    db = app.server.extensions["dashapp"].db
    with job_scope(app.server, db) as job_db:
        download_tearsheet(SEARCH, job_db)
        heard = []
        download, _ = download_tearsheet(SEARCH, job_db, heard.append)
    assert heard == [STAGES[0]] and download["filename"] == "bt-ppo-2.1-tearsheet.html"


@pytest.mark.parametrize(
    ("search", "status"),
    [
        ("?run=nope", "run: names no known run: nope"),
        ("?focus=bt-ppo-2.1&from=2030-01-01", "run: bt-ppo-2.1: no daily returns in this period"),
    ],
)
def test_a_report_that_cannot_be_built_says_why_and_downloads_nothing(shared_db, search, status):
    assert download_tearsheet(search, shared_db) == (no_update, status)


def test_the_progress_bar_shows_the_share_of_stages_begun_and_the_line_names_the_stage():
    shown = []
    report = progress_reporter(shown.append)
    for stage in STAGES:
        report(stage)
    assert [value for value, _ in shown] == [25, 50, 75]
    assert shown[-1][1] == f"Building the tearsheet: {STAGES[-1]}…"


# -- the managers --------------------------------------------------------------------------------


def test_without_a_broker_jobs_are_processes_with_a_diskcache_in_the_cache_folder(tmp_path):
    manager = background_manager(Config(cache_dir=tmp_path))
    assert isinstance(manager, DiskcacheManager)
    assert manager.handle.directory == str(tmp_path / "background")


def test_with_a_broker_jobs_are_celery_tasks_on_the_broker_which_also_keeps_their_results(tmp_path):
    manager = background_manager(Config(cache_dir=tmp_path, celery_broker_url=BROKER))
    assert isinstance(manager, SharedSecretCeleryManager) and isinstance(manager, CeleryManager)
    conf = manager.handle.conf
    assert conf.broker_url == conf.result_backend == BROKER
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)
    assert conf.task_serializer == conf.result_serializer == "json" and conf.accept_content == ["json"]


# Dash hands every callback registered in the process to each new manager, so the earlier tests' apps
# registered this callback's task on `given` first; a worker builds one app.
@pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")
def test_the_app_gets_the_configured_manager(tmp_path):
    assert isinstance(create_app(Config(cache_dir=tmp_path))._background_manager, DiskcacheManager)
    given = Celery("given")
    given.conf.update(broker_url=BROKER, result_backend=BROKER)
    app = create_app(Config(cache_dir=tmp_path, celery_broker_url=BROKER), celery=given)
    assert app._background_manager.handle is given
    # Dash made the tearsheet callback a task on the given Celery app, as the worker needs it.
    assert any(name.startswith("background_callback_") for name in given.tasks)


# -- the worker's Celery app ---------------------------------------------------------------------


def test_celery_finds_the_module_app_which_reads_the_environment_only_when_configured(monkeypatch):
    assert find_app("dashapp.celery_app") is celery_app.app
    lazy = celery_app.make_celery()  # as at import: no variable is read yet
    monkeypatch.setenv("DASHAPP_CELERY_BROKER_URL", BROKER)
    assert lazy.conf.broker_url == lazy.conf.result_backend == BROKER


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "dashapp: DASHAPP_CELERY_BROKER_URL is not set"),
        ({"DASHAPP_CELERY_BROKER_URL": "amqp://x"}, "dashapp: DASHAPP_CELERY_BROKER_URL must be a redis://"),
    ],
)
def test_a_worker_without_a_redis_broker_url_stops_in_one_line_naming_the_variable(monkeypatch, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as raised:
        celery_app.make_celery().conf.broker_url  # noqa: B018
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_celery_app_made_from_a_config_without_a_broker_says_so():
    with pytest.raises(ConfigError, match="^DASHAPP_CELERY_BROKER_URL is not set"):
        celery_app.make_celery(Config()).conf.broker_url  # noqa: B018


# -- Dash's polling protocol, with a real forked job ---------------------------------------------


def start_and_poll(client, search: str, timeout: float = 60) -> tuple[list[dict], dict]:
    """What the browser does: POST the callback, then POST again with the job's signed handles until it answers.

    Returns the progress updates seen and the final response.
    """
    page = client.get("/").get_data(as_text=True)
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', page).group(1))
    body = {
        "output": "..tearsheet-download.data...tearsheet-status.children..",
        "outputs": [
            {"id": "tearsheet-download", "property": "data"},
            {"id": "tearsheet-status", "property": "children"},
        ],
        "inputs": [{"id": "tearsheet-button", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["tearsheet-button.n_clicks"],
        "state": [{"id": "url", "property": "search", "value": search}],
    }
    started = client.post(f"/_dash-update-component?endId={config['end_id']}", json=body).get_json()
    query = f"endId={config['end_id']}&cacheKey={started['cacheKey']}&job={started['job']}"
    progress, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.post(f"/_dash-update-component?{query}", json=body).get_json()
        progress += [answer["progress"]] if "progress" in answer else []
        if "response" in answer:
            return progress, answer["response"]
        time.sleep(0.05)
    raise AssertionError(f"no result within {timeout} s; progress: {progress}")


def test_a_forked_job_builds_the_report_while_the_browser_polls_its_stage_then_the_file(client):
    progress, response = start_and_poll(client, SEARCH)
    assert {"tearsheet-progress.value": 75, "tearsheet-stage.children": f"Building the tearsheet: {STAGES[2]}…"} in (
        progress
    )
    assert response["tearsheet-status"]["children"] == "bt-ppo-2.1-tearsheet.html downloaded."
    assert "<h1>bt-ppo-2.1 tearsheet" in response["tearsheet-download"]["data"]["content"]
