"""Concurrent misses of one cache key compute it once, across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import replace

import pandas as pd
from cachelib import SimpleCache

from dashapp.config import Config
from dashapp.db import Database
from dashapp.singleflight import single_flight


def test_concurrent_misses_of_a_key_compute_it_once(tmp_path):
    db = Database(Config(data_dir=tmp_path, cache_dir=tmp_path / "cache"), cache=SimpleCache())
    computed, results = [], []

    def compute():
        computed.append(threading.get_ident())
        time.sleep(0.3)  # long enough for every thread to miss the cache first
        return pd.DataFrame({"x": [1]})

    def miss():
        results.append(db._cached("q:k", compute, single=True))

    threads = [threading.Thread(target=miss) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1
    assert len(results) == 5 and all(frame.equals(results[0]) for frame in results)
    db._cached("q:other", compute, single=True)  # another key computes on its own
    assert len(computed) == 2


def _hold(folder, key, held, seconds):
    with single_flight(folder, key):
        held.set()
        time.sleep(seconds)


def test_a_worker_process_waits_for_the_one_computing_the_key(tmp_path):
    held = multiprocessing.Event()
    worker = multiprocessing.get_context("fork").Process(target=_hold, args=(tmp_path, "k", held, 0.6))
    worker.start()
    assert held.wait(10)
    started = time.monotonic()
    with single_flight(tmp_path, "k"):
        waited = time.monotonic() - started
    worker.join()
    assert waited > 0.3


def test_a_stuck_holder_delays_the_others_only_up_to_the_wait(tmp_path, caplog):
    release = threading.Event()

    def stuck():
        with single_flight(tmp_path, "k"):
            release.wait(10)

    holder = threading.Thread(target=stuck)
    holder.start()
    time.sleep(0.1)
    started = time.monotonic()
    with single_flight(tmp_path, "k", wait=0.2):
        waited = time.monotonic() - started
    release.set()
    holder.join()
    assert 0.2 <= waited < 2
    assert "computing it anyway" in caplog.text


def test_no_lock_is_taken_while_one_is_held_even_when_every_key_shares_a_stripe(
    shared_config, tmp_path, monkeypatch, caplog
):
    """A chart's memo wraps memos that wrap queries: were they all locked, one stripe would block itself."""
    from dashapp import singleflight
    from dashapp.charts import get_chart, render
    from tests.fixtures import chart_args

    monkeypatch.setattr(singleflight, "STRIPES", 1)
    monkeypatch.setattr(singleflight, "WAIT_SECONDS", 0.5)
    db = Database(replace(shared_config, cache_dir=tmp_path / "cache"), cache=SimpleCache())
    for chart_id in ("alerts.current", "drift.heatmap", "backtest.metrics", "sentiment.versions"):
        render(get_chart(chart_id), chart_args(chart_id), db)
    assert "computing it anyway" not in caplog.text
