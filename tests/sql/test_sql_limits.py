"""Queries that would hurt the server are stopped cleanly: at the request's deadline, past the memory limit, or
when a worker's heavy-query slots are all taken. The connection keeps serving afterwards."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime

import pytest

from dashapp import deadline
from dashapp.config import Config
from dashapp.db import Database
from dashapp.errors import QueryRefused
from dashapp.sqlfiles import load_query
from tests.fixtures import MILLION_END, fill

WINDOW = {"start": datetime(2026, 11, 15), "end": MILLION_END}
FILTERS = {**WINDOW, "symbol": [], "model_version": None}


@pytest.fixture
def big_db(million, tmp_path) -> Database:
    return Database(Config(data_dir=million, cache_dir=tmp_path / "cache", cache_type="null", heavy_queries=1))


@pytest.fixture(autouse=True)
def _no_deadline_left_behind():
    yield
    deadline.end()


def heavy(db: Database):
    return db.run("sentiment_confusion", **FILTERS)


def test_a_query_past_the_requests_deadline_is_interrupted_and_the_connection_keeps_serving(big_db):
    started = time.perf_counter()
    heavy(big_db)
    full = time.perf_counter() - started
    budget = full / 5
    deadline.begin(budget)
    started = time.perf_counter()
    with pytest.raises(QueryRefused) as raised:
        heavy(big_db)
    stopped = time.perf_counter() - started
    assert raised.value.reason == "deadline" and "narrow the time range" in raised.value.message
    assert stopped < full * 0.8, f"interrupted after {stopped:.3f} s; the query takes {full:.3f} s"
    deadline.end()
    assert len(heavy(big_db)) > 0  # the same connection, not reopened
    assert big_db.data_through("predictions") is not None


def test_a_request_whose_time_is_up_runs_no_query(big_db):
    deadline.begin(0.001)
    time.sleep(0.01)
    with pytest.raises(QueryRefused):
        heavy(big_db)


def test_outside_a_request_queries_have_no_deadline(big_db):
    assert deadline.remaining() is None
    assert len(heavy(big_db)) > 0


def test_memory_beyond_the_limit_is_a_clean_message_and_the_worker_keeps_serving(million, tmp_path):
    db = Database(
        Config(data_dir=million, cache_dir=tmp_path / "cache", cache_type="null", duckdb_memory_limit="16MiB")
    )
    with pytest.raises(QueryRefused) as raised:
        db.run("overview_kpis", **FILTERS)
    assert raised.value.reason == "memory" and "16MiB" in raised.value.message
    assert db.data_through("predictions") is not None


def test_heavy_queries_wait_for_a_slot_until_the_deadline_and_metadata_goes_straight_through(big_db):
    with big_db._slot(load_query("sentiment_confusion")):  # the worker's only slot, held by "another request"
        deadline.begin(0.3)
        started = time.perf_counter()
        with pytest.raises(QueryRefused) as raised:
            heavy(big_db)
        assert raised.value.reason == "busy" and 0.25 < time.perf_counter() - started < 2
        deadline.begin(2)  # a new request: it would be "busy" too if metadata needed the slot
        assert big_db.data_through("predictions") is not None  # meta_extent needs no slot
    assert len(heavy(big_db)) > 0


def test_a_waiting_heavy_query_runs_when_the_slot_frees(big_db):
    results = []
    with big_db._slot(load_query("sentiment_confusion")):
        waiter = threading.Thread(target=lambda: results.append(len(heavy(big_db))))
        waiter.start()
        time.sleep(0.2)
        assert results == []  # still waiting
    waiter.join(10)
    assert results and results[0] > 0


def duplicates(db: Database):
    """Every request_id of five days grouped: a hash table that needs spilling under a small memory limit."""
    window = {"start": datetime(2026, 11, 14), "end": MILLION_END}
    return db.run_on("predictions", "quality_duplicates", time_column="^ts$", **window)


SPILLING = "64MiB"  # a limit under which duplicates() spills to disk (a million distinct ids)


def test_a_view_that_spills_into_a_full_spill_folder_is_a_clean_message_and_the_worker_keeps_serving(
    million, tmp_path, volume
):
    roomy = Database(
        Config(data_dir=million, cache_dir=tmp_path / "cache", cache_type="null", duckdb_memory_limit=SPILLING)
    )
    assert duplicates(roomy).iloc[0]["with_id"] > 900_000  # it fits, spilling
    fill(volume)
    db = Database(replace(roomy.config, duckdb_spill_dir=volume / "spill"))
    with pytest.raises(QueryRefused) as raised:
        duplicates(db)
    assert raised.value.reason == "memory"
    assert "could not spill the rest to disk (No space left on device)" in raised.value.message
    assert str(volume) not in raised.value.message
    assert db.data_through("predictions") is not None  # the same connection goes on
