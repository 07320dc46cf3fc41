"""The results cache in a folder that fails, in one process (dashapp/cache.py's GuardedFileSystemCache).

tests/browser/test_cache_folder.py runs the same failures under gunicorn; these are the fast checks of the
misses, the one warning, the recovery and what /readyz says.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from flask import Flask

from dashapp import breaker, create_app
from dashapp.cache import cache, init_cache
from tests.fixtures import ALL, fill

WINDOW = f"start={ALL['start']:%Y-%m-%d}&end={ALL['end']:%Y-%m-%d}"


@pytest.fixture
def folder_app(config):
    """A Flask server with the results cache in the folder it is given."""

    def make(cache_dir) -> Flask:
        server = Flask("test-cache-folder")
        init_cache(server, replace(config, cache_dir=cache_dir))
        return server

    return make


def failures(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "the cache folder" in r.getMessage()]


def test_a_cache_folder_that_cannot_be_made_gives_misses_and_one_warning(folder_app, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, "dashapp.breaker"):
        with folder_app(blocker / "cache").app_context():
            assert [(cache.get(f"k{i}"), cache.set(f"k{i}", i)) for i in range(50)] == [(None, False)] * 50
    assert len(failures(caplog)) == 1 and "NotADirectoryError" in failures(caplog)[0]


def test_a_full_cache_folder_drops_writes_leaves_no_partial_file_and_caches_again_once_there_is_room(
    folder_app, volume, caplog, monkeypatch
):
    monkeypatch.setattr(breaker, "RETRY_AFTER", 0.0)  # every call after a failure tries again
    results = volume / "cache" / "results"
    with caplog.at_level(logging.WARNING, "dashapp.breaker"), folder_app(volume / "cache").app_context():
        assert cache.set("before", "x" * 1000) and cache.get("before") == "x" * 1000
        filler = fill(volume)
        assert [cache.set(f"k{i}", "y" * 10_000) for i in range(20)] == [False] * 20
        assert not [p for p in results.iterdir() if p.name.endswith(".__wz_cache")]  # partial files removed
        filler.unlink()
        assert cache.set("after", 1) and cache.get("after") == 1
    messages = [r.getMessage() for r in caplog.records]
    failed = [m for m in messages if "failed in process" in m]
    assert len(failed) == 1 and "No space left on device" in failed[0]
    assert sum("is back in process" in m for m in messages) == 1


def test_a_chart_is_served_and_readiness_says_degraded_while_the_cache_folder_cannot_be_made(config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    client = create_app(replace(config, cache_dir=blocker / "cache")).server.test_client()
    chart = client.get(f"/api/charts/ops.latency?{WINDOW}")
    assert chart.status_code == 200 and chart.get_json()["ok"]
    ready = client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200 and body["ok"]
    assert body["degraded"] == {
        "results cache": "NotADirectoryError: Not a directory",
        "single-flight locks": "NotADirectoryError: Not a directory",
    }
    assert str(tmp_path) not in ready.get_data(as_text=True)


def test_readiness_says_nothing_is_degraded_when_the_cache_folder_works(client):
    assert client.get("/readyz").get_json()["degraded"] == {}
