"""The Redis cache's breaker in one process, against real sockets: a dead Redis costs one timeout, not one per call.

The browser-folder test (tests/browser/test_redis_cache.py) runs the same against a real redis-server
under gunicorn; these are the fast checks of the timeouts and the log lines.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from flask import Flask

from dashapp import breaker
from dashapp.cache import REDIS_TIMEOUT, cache, init_cache
from dashapp.config import Config


@pytest.fixture
def silent_redis():
    """A socket that listens but never answers: connects succeed (the kernel's backlog), reads time out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.fixture
def closing_redis():
    """A socket that accepts each connection and closes it at once (a Redis dying); yields the URL and the
    connections it saw."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    connections = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed at the end of the test
                return
            connections.append(conn.getpeername())
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", connections
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
    listener.close()
    thread.join(timeout=5)


def redis_app(url: str, tmp_path) -> Flask:
    server = Flask("test-cache")
    init_cache(server, Config(cache_redis_url=url, cache_dir=tmp_path / "cache", workers=1))
    return server


def test_a_silent_redis_costs_one_read_timeout_and_one_warning_for_many_calls(silent_redis, tmp_path, caplog):
    with redis_app(silent_redis, tmp_path).app_context(), caplog.at_level(logging.WARNING, "dashapp.cache"):
        started = time.perf_counter()
        results = [(cache.get(f"k{i}"), cache.set(f"k{i}", i)) for i in range(100)]
        elapsed = time.perf_counter() - started
    assert results == [(None, False)] * 100  # misses and dropped writes, no exception
    assert REDIS_TIMEOUT <= elapsed < 2 * REDIS_TIMEOUT + 0.2  # without the breaker: 200 timeouts, 50 s
    assert len(caplog.records) == 1
    assert "failed" in caplog.text and "TimeoutError" in caplog.text


def test_a_failing_redis_is_tried_again_after_the_pause_and_the_password_never_logged(
    closing_redis, tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr(breaker, "RETRY_AFTER", 0.3)
    url, connections = closing_redis
    with redis_app(url.replace("//", "//:hunter2@"), tmp_path).app_context():
        with caplog.at_level(logging.WARNING, "dashapp.cache"):
            assert cache.get("a") is None
            tried = len(connections)
            assert cache.get("a") is None and cache.set("a", 1) is False  # skipped: within the pause
            time.sleep(0.1)
            assert len(connections) == tried
            time.sleep(0.3)
            assert cache.get("a") is None  # the trial call, failing again
            time.sleep(0.1)
            assert len(connections) > tried
    assert tried == 2  # the first call and its one retry on a fresh connection
    assert len(caplog.records) == 1  # one warning per outage, not per trial
    assert "ConnectionError" in caplog.text and "hunter2" not in caplog.text
