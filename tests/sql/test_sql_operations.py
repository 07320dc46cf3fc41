"""queries/ops_*.sql on the fixture tables: request counts, exact latency percentiles, pipeline runs and health."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from tests.fixtures import ALL, DAY1, DAY2, DAY3, assert_rows

DAY = 86400
ALL_PREDICTIONS = {**ALL, "symbol": [], "model_version": None}


def pct(values, q: float) -> float:
    """The expected quantile_cont: linear interpolation between order statistics."""
    return float(np.quantile(values, q, method="linear"))


def test_requests_count_outcomes_and_cache_lookups_per_day_and_version(db):
    frame = db.run("ops_requests", **ALL_PREDICTIONS, bucket=DAY)
    columns = ("bucket", "model_version", "requests", "server_errors", "client_errors", "cache_hits", "cache_lookups")
    expected = [
        (DAY1, "v1", 3, 0, 0, 2, 3),  # r01 hit, r02 miss, r04 hit
        (DAY1, "v2", 1, 1, 0, 0, 0),  # r03: 500, cache_hit NULL is not a lookup
        (DAY2, "v1", 2, 1, 1, 1, 2),  # r05 404 hit, r07 503 miss
        (DAY2, "v2", 2, 0, 0, 1, 2),  # r06 hit, r08 miss
        (DAY3, "v1", 2, 0, 1, 2, 2),  # r09 429 hit, r10 hit
        (DAY3, "v2", 1, 1, 0, 1, 1),  # r11 500 hit
    ]
    assert_rows(frame, [dict(zip(columns, row, strict=True)) for row in expected])


def test_latency_quantiles_are_exact_per_day_and_version(db):
    frame = db.run("ops_latency_quantiles", **ALL_PREDICTIONS, bucket=DAY)
    latencies = {
        (DAY1, "v1"): [100.0, 120.0, 80.0],
        (DAY1, "v2"): [300.0],
        (DAY2, "v1"): [90.0, 1500.0],
        (DAY2, "v2"): [250.0, 110.0],
        (DAY3, "v1"): [95.0, 105.0],
        (DAY3, "v2"): [400.0],
    }
    assert_rows(
        frame,
        [
            {
                "bucket": day,
                "model_version": version,
                "p50_ms": pct(values, 0.50),
                "p95_ms": pct(values, 0.95),
                "p99_ms": pct(values, 0.99),
                "requests": len(values),
            }
            for (day, version), values in latencies.items()
        ],
    )
    # Spot-check the interpolation by hand: [90, 1500] at 0.95 is 90 + 0.95 * 1410.
    assert frame.loc[2, "p95_ms"] == 1429.5


def test_latency_quantiles_respect_filters_and_hourly_buckets(db):
    frame = db.run(
        "ops_latency_quantiles", start=DAY2, end=DAY3, bucket=3600, symbol=["MSFT", "TSLA"], model_version="v1"
    )
    # Only r07 (TSLA v1 08:45, 1500 ms).
    assert_rows(
        frame,
        [
            {
                "bucket": datetime(2024, 3, 2, 8),
                "model_version": "v1",
                "p50_ms": 1500.0,
                "p95_ms": 1500.0,
                "p99_ms": 1500.0,
                "requests": 1,
            }
        ],
    )


def test_pipeline_runs_fold_stages_into_one_row_per_run(db):
    frame = db.run("ops_pipeline_runs", **ALL)
    columns = (
        "pipeline",
        "run_id",
        "started_at",
        "finished_at",
        "duration_s",
        "status",
        "stages",
        "failed_stage",
        "error",
        "rows_out",
    )
    t = datetime
    expected = [
        ("ingest", "i1", t(2024, 3, 1, 1), t(2024, 3, 1, 1, 1, 40), 100.0, "success", 2, None, None, 98),
        ("train", "t1", t(2024, 3, 1, 2), t(2024, 3, 1, 2, 10), 600.0, "success", 1, None, None, 1),
        ("ingest", "i2", t(2024, 3, 2, 1), t(2024, 3, 2, 1, 0, 25), 25.0, "failed", 2, "parse", "schema mismatch", 0),
        ("train", "t2", t(2024, 3, 2, 2), t(2024, 3, 2, 2, 1), 60.0, "failed", 1, "fit", "OOM", 0),
        ("ingest", "i3", t(2024, 3, 2, 13), t(2024, 3, 2, 13, 5), 300.0, "failed", 1, "fetch", "timeout", 0),
        ("ingest", "i4", t(2024, 3, 3, 1), t(2024, 3, 3, 1, 2), 120.0, "success", 2, None, None, 90),
        ("train", "t3", t(2024, 3, 3, 2), t(2024, 3, 3, 2, 20), 1200.0, "success", 1, None, None, 1),
    ]
    assert_rows(frame, [dict(zip(columns, row, strict=True)) for row in expected])


def test_pipeline_runs_window_is_on_start_time_and_excludes_end(db):
    # i3 starts at 13:00 sharp, so [01:00, 13:00) holds i2 and t2 only.
    frame = db.run("ops_pipeline_runs", start=datetime(2024, 3, 2, 1), end=datetime(2024, 3, 2, 13))
    assert frame["run_id"].tolist() == ["i2", "t2"]


def test_pipeline_health_summarises_runs_failures_and_durations(db):
    frame = db.run("ops_pipeline_health", **ALL)
    ingest, train = [100.0, 25.0, 300.0, 120.0], [600.0, 60.0, 1200.0]
    assert_rows(
        frame,
        [
            {
                "pipeline": "ingest",
                "runs": 4,
                "failed": 2,
                "failure_rate": 2 / 4,
                "median_duration_s": pct(ingest, 0.5),
                "p95_duration_s": pct(ingest, 0.95),
                "last_run": datetime(2024, 3, 3, 1),
                "last_failure": datetime(2024, 3, 2, 13),
                "last_error": "timeout",  # the latest failed run's error, not any failed run's
            },
            {
                "pipeline": "train",
                "runs": 3,
                "failed": 1,
                "failure_rate": 1 / 3,
                "median_duration_s": pct(train, 0.5),
                "p95_duration_s": pct(train, 0.95),
                "last_run": datetime(2024, 3, 3, 2),
                "last_failure": datetime(2024, 3, 2, 2),
                "last_error": "OOM",
            },
        ],
    )


def test_pipeline_health_of_a_window_without_failures_has_no_last_failure(db):
    frame = db.run("ops_pipeline_health", start=DAY3, end=datetime(2024, 3, 4))
    assert frame["failed"].tolist() == [0, 0]
    assert frame["last_failure"].isna().all() and frame["last_error"].isna().all()
