"""dayslices.py and Database._run_by_day: per-day results reused across windows, and always the same answer."""

from __future__ import annotations

import os
from datetime import date, datetime

import pandas as pd
import pytest
from flask_caching.backends import FileSystemCache

from dashapp.dayslices import day_slices, divides_days, last_day, runs
from dashapp.db import Database
from dashapp.sqlfiles import load_query
from tests.fixtures import DAY1, DAY2, DAY3, DAY4, outcomes, write_partitioned

NO_FILTER = {"symbol": [], "model_version": None}
# Every split query with the params that make it split by day, over windows with partial days.
SPLIT_QUERIES = {
    "ops_requests": {"bucket": 3600, **NO_FILTER},
    "ops_latency_quantiles": {"bucket": 900, **NO_FILTER},
    "overview_volume": {"bucket": 86400, **NO_FILTER},
    "sentiment_confusion": NO_FILTER,
    "drift_bins_by_bucket": {"bucket": 3600, **NO_FILTER, "columns": ["headline_words"], "edges": [[9.0, 12.0]]},
    "drift_values_by_bucket": {"bucket": 86400, **NO_FILTER, "columns": ["label"]},
}
WINDOWS = [
    (DAY1, DAY4),
    (datetime(2024, 3, 1, 9, 15), datetime(2024, 3, 3, 6, 5)),
    (datetime(2024, 3, 2, 0, 0), datetime(2024, 3, 2, 8, 45)),
    (datetime(2024, 2, 27), datetime(2024, 3, 6)),
]


class RecordingDatabase(Database):
    """A Database that records the windows it really executes (cache misses)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.executed: list[dict] = []

    def _execute(self, query, params, sources):
        self.executed.append(params)
        return super()._execute(query, params, sources)


@pytest.fixture
def cached_db(config, tmp_path) -> RecordingDatabase:
    return RecordingDatabase(config, cache=FileSystemCache(str(tmp_path / "results"), default_timeout=0))


def windows_run(db: RecordingDatabase) -> list[tuple[datetime, datetime]]:
    return [(p["start"], p["end"]) for p in db.executed]


def test_day_slices_cut_a_window_at_each_midnight():
    assert day_slices(datetime(2024, 3, 1, 9), datetime(2024, 3, 3, 6)) == [
        (datetime(2024, 3, 1, 9), DAY2),
        (DAY2, DAY3),
        (DAY3, datetime(2024, 3, 3, 6)),
    ]
    assert day_slices(DAY1, DAY2) == [(DAY1, DAY2)]
    assert last_day(DAY2) == date(2024, 3, 1)
    assert last_day(datetime(2024, 3, 2, 0, 0, 1)) == date(2024, 3, 2)


def test_only_buckets_that_tile_a_day_are_split():
    assert all(divides_days(s) for s in (None, 60, 900, 3600, 10800, 86400))
    assert not any(divides_days(s) for s in (7 * 86400, 7 * 3600, 0))


def test_runs_group_consecutive_flags():
    assert list(runs([True, True, False, True, False, False, True])) == [(0, 2), (3, 4), (6, 7)]
    assert list(runs([False])) == []


@pytest.mark.parametrize("name", SPLIT_QUERIES)
def test_answers_assembled_from_cached_days_equal_the_query_over_the_whole_window(name, config, cached_db):
    assert load_query(name).split
    uncached = Database(config)
    for start, end in WINDOWS:  # each window reuses days the earlier ones cached
        params = {"start": start, "end": end, **SPLIT_QUERIES[name]}
        pd.testing.assert_frame_equal(cached_db.run(name, **params), uncached.run(name, **params))


def test_a_moved_window_recomputes_only_its_partial_first_and_last_day(cached_db):
    params = {"bucket": 3600, **NO_FILTER}
    cached_db.run("ops_requests", start=datetime(2024, 2, 28), end=DAY4, **params)
    assert windows_run(cached_db) == [(datetime(2024, 2, 28), DAY4)]  # cold: one query, cut into days
    cached_db.executed.clear()
    cached_db.run("ops_requests", start=datetime(2024, 2, 28, 1), end=datetime(2024, 3, 3, 1), **params)
    assert windows_run(cached_db) == [
        (datetime(2024, 2, 28, 1), datetime(2024, 2, 29)),
        (DAY3, datetime(2024, 3, 3, 1)),
    ]


def test_a_new_file_in_one_partition_recomputes_that_day_only(cached_db, data_dir):
    params = {"start": DAY1, "end": DAY4, "bucket": 3600, **NO_FILTER}
    before = cached_db.run("ops_requests", **params)
    extra = pd.read_parquet(data_dir / "predictions" / "dt=2024-03-02" / "part-0.parquet").iloc[[0]]
    extra.assign(request_id="r99").to_parquet(data_dir / "predictions" / "dt=2024-03-02" / "part-1.parquet")
    cached_db.executed.clear()
    after = cached_db.run("ops_requests", **params)
    assert windows_run(cached_db) == [(DAY2, DAY3)]
    assert after["requests"].sum() == before["requests"].sum() + 1


def test_a_rewritten_file_changes_its_days_fingerprint(cached_db, data_dir):
    params = {"start": DAY1, "end": DAY4, "bucket": 3600, **NO_FILTER}
    cached_db.run("ops_requests", **params)
    path = data_dir / "predictions" / "dt=2024-03-03" / "part-0.parquet"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    cached_db.executed.clear()
    cached_db.run("ops_requests", **params)
    assert windows_run(cached_db) == [(DAY3, DAY4)]


def test_new_outcomes_are_joined_against_their_own_partition_only(cached_db, data_dir):
    params = {"start": DAY1, "end": DAY4, **NO_FILTER}
    before = cached_db.run("sentiment_confusion", **params)
    # r05 (03-02, neutral) and r11 (03-03, negative) get their outcomes on 03-04: both right.
    late = (
        outcomes()
        .iloc[:2]
        .assign(
            request_id=["r05", "r11"],
            true_label=["neutral", "negative"],
            ts=pd.Timestamp("2024-03-04 09:00").as_unit("us"),
        )
    )
    write_partitioned(data_dir, "outcomes", late)
    cached_db.executed.clear()
    after = cached_db.run("sentiment_confusion", **params)
    assert [(p["start"], p["end"], p["later_from"], p["later_to"]) for p in cached_db.executed] == [
        (DAY1, DAY4, date(2024, 3, 4), date(2024, 3, 4))
    ]
    right = (after["label"] == after["true_label"]) * after["n"]
    right_before = (before["label"] == before["true_label"]) * before["n"]
    assert [after["n"].sum(), right.sum()] == [before["n"].sum() + 2, right_before.sum() + 2]
    pd.testing.assert_frame_equal(after, Database(cached_db.config).run("sentiment_confusion", **params))
