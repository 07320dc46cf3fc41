"""queries/overview_*.sql: KPIs against the previous window, accuracy from outcomes, label mix, incidents."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import ALL, DAY1, DAY2, DAY3, DAY4, assert_rows, pipeline_runs, write_partitioned, write_single

NO_FILTER = {"symbol": [], "model_version": None}
THRESHOLDS = {"latency_ms_threshold": 1000.0, "error_rate_threshold": 0.05}


def pct(values, q: float) -> float:
    return float(np.quantile(values, q, method="linear"))


def accuracy_pairs(db, **params) -> pd.DataFrame:
    """sentiment_confusion.sql's counts summed as Overview's accuracy sums them, per day and outcome partition."""
    frame = db.run("sentiment_confusion", **params)
    frame = frame.assign(correct=frame["n"].where(frame["label"] == frame["true_label"], 0))
    keys = ["day", "later_day", "model_version"]
    return frame.groupby(keys, as_index=False).agg(with_outcome=("n", "sum"), correct=("correct", "sum"))


def test_kpis_compare_the_window_with_the_one_before_it(db):
    frame = db.run("overview_kpis", start=DAY3, end=DAY4, **NO_FILTER)
    assert_rows(
        frame,
        [
            # r09 r10 r11: one 500 (r11); every cache_hit true.
            {
                "period": "current",
                "predictions": 3,
                "error_rate": 1 / 3,
                "p95_latency_ms": pct([95, 105, 400], 0.95),
                "cache_hit_rate": 1.0,
            },
            # r05 .. r08: one 5xx (r07 503; r05's 404 is a client error); two hits of four.
            {
                "period": "previous",
                "predictions": 4,
                "error_rate": 1 / 4,
                "p95_latency_ms": pct([90, 250, 1500, 110], 0.95),
                "cache_hit_rate": 2 / 4,
            },
        ],
    )


def test_kpis_ignore_a_null_cache_hit_and_omit_an_empty_previous_window(db):
    frame = db.run("overview_kpis", start=DAY1, end=DAY2, **NO_FILTER)
    # r01 .. r04; r03's cache_hit is NULL, so the rate is 2 hits of 3 known; nothing before DAY1.
    assert frame["period"].tolist() == ["current"]
    assert frame.loc[0, "predictions"] == 4
    assert frame.loc[0, "cache_hit_rate"] == pytest.approx(2 / 3)
    assert frame.loc[0, "error_rate"] == pytest.approx(1 / 4)


def pair(day: int, later_day: int, version: str, with_outcome: int, correct: int) -> dict:
    return {
        "day": pd.Timestamp(2024, 3, day),
        "later_day": pd.Timestamp(2024, 3, later_day),
        "model_version": version,
        "with_outcome": with_outcome,
        "correct": correct,
    }


def test_accuracy_counts_right_predictions_per_prediction_day_and_outcome_partition(db):
    # r09 r10 r11; only r10 has an outcome (same day), and it is right.
    assert_rows(accuracy_pairs(db, start=DAY3, end=DAY4, **NO_FILTER), [pair(3, 3, "v1", 1, 1)])
    # r05 .. r08: r06's outcome lands the same day (right); r07 (right) and r08 (wrong) the next; r05 has none.
    assert_rows(
        accuracy_pairs(db, start=DAY2, end=DAY3, **NO_FILTER),
        [pair(2, 2, "v2", 1, 1), pair(2, 3, "v1", 1, 1), pair(2, 3, "v2", 1, 0)],
    )


def test_accuracy_over_everything_and_for_one_model_version(db):
    everything = accuracy_pairs(db, **ALL, **NO_FILTER)
    assert_rows(
        everything,
        [
            pair(1, 1, "v1", 2, 1),
            pair(1, 2, "v2", 1, 1),
            pair(2, 2, "v2", 1, 1),
            pair(2, 3, "v1", 1, 1),
            pair(2, 3, "v2", 1, 0),
            pair(3, 3, "v1", 1, 1),
        ],
    )
    assert everything[["with_outcome", "correct"]].sum().tolist() == [7, 5]
    # v2: r03 right (outcome next day), r06 right, r08 wrong, r11 no outcome.
    v2 = accuracy_pairs(db, **ALL, symbol=[], model_version="v2")
    assert_rows(v2, [pair(1, 2, "v2", 1, 1), pair(2, 2, "v2", 1, 1), pair(2, 3, "v2", 1, 0)])


def test_accuracy_has_no_rows_when_no_outcome_has_arrived(db):
    frame = accuracy_pairs(db, start=datetime(2024, 3, 3, 10), end=datetime(2024, 3, 3, 20), **NO_FILTER)
    assert frame.empty  # r11
    assert list(frame.columns) == ["day", "later_day", "model_version", "with_outcome", "correct"]


def test_an_outcome_filed_before_its_predictions_day_is_not_its_outcome(db, data_dir):
    # A wrong-way record: r11 (predicted 03-03 18:00) with an outcome in the 03-01 partition.
    stray = pd.DataFrame({"request_id": ["r11"], "ts": [pd.Timestamp("2024-03-01 08:00")], "true_label": ["negative"]})
    stray["ts"] = stray["ts"].astype("datetime64[us]")
    stray.to_parquet(data_dir / "outcomes" / "dt=2024-03-01" / "part-1.parquet", index=False)
    frame = accuracy_pairs(db, **ALL, **NO_FILTER)
    assert frame[["with_outcome", "correct"]].sum().tolist() == [7, 5]


def test_label_mix_gives_each_versions_label_shares(db):
    frame = db.run("overview_label_mix", **ALL, **NO_FILTER)
    # v1: r01 r04 r10 positive, r02 r07 negative, r05 r09 neutral. v2: r06 r08 positive, r11 negative, r03 neutral.
    assert_rows(
        frame,
        [
            {"model_version": "v1", "label": "negative", "predictions": 2, "share": 2 / 7},
            {"model_version": "v1", "label": "neutral", "predictions": 2, "share": 2 / 7},
            {"model_version": "v1", "label": "positive", "predictions": 3, "share": 3 / 7},
            {"model_version": "v2", "label": "negative", "predictions": 1, "share": 1 / 4},
            {"model_version": "v2", "label": "neutral", "predictions": 1, "share": 1 / 4},
            {"model_version": "v2", "label": "positive", "predictions": 2, "share": 2 / 4},
        ],
    )


def test_label_mix_of_one_symbol(db):
    frame = db.run("overview_label_mix", **ALL, symbol=["TSLA"], model_version=None)
    # TSLA: r04 positive v1, r07 negative v1, r11 negative v2.
    assert frame[["model_version", "label", "predictions"]].values.tolist() == [
        ["v1", "negative", 1],
        ["v1", "positive", 1],
        ["v2", "negative", 1],
    ]
    assert frame["share"].tolist() == [0.5, 0.5, 1.0]


def test_pipeline_incidents_group_consecutive_failed_runs(db):
    frame = db.run("overview_incidents_pipelines", **ALL)
    # ingest: i2 and i3 fail back to back (one episode); train: t2 alone. Newest first.
    assert frame[["pipeline", "started", "ended", "failed_runs"]].values.tolist() == [
        ["train", pd.Timestamp("2024-03-02 02:00"), pd.Timestamp("2024-03-02 02:01"), 1],
        ["ingest", pd.Timestamp("2024-03-02 01:00"), pd.Timestamp("2024-03-02 13:05"), 2],
    ]
    assert frame.loc[0, "error"] == "OOM"
    assert frame.loc[1, "error"] in {"schema mismatch", "timeout"}


def test_pipeline_incidents_split_when_a_good_run_comes_between(tmp_path):
    runs = pipeline_runs()
    # Make t3 fail too: t2 and t3 stay one episode; then add a failed i5 after the good i4.
    runs.loc[runs["run_id"] == "t3", ["status", "error"]] = ["failed", "OOM again"]
    later = runs[runs["run_id"] == "i3"].assign(
        run_id="i5", started_at=datetime(2024, 3, 3, 13), finished_at=datetime(2024, 3, 3, 13, 1)
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_single(data_dir, "pipeline_runs", pd.concat([runs, later], ignore_index=True))
    db = Database(Config(data_dir=data_dir, cache_type="null", cache_dir=tmp_path / "cache", workers=1))
    frame = db.run("overview_incidents_pipelines", start=DAY1, end=DAY4)
    assert frame[["pipeline", "started", "failed_runs"]].values.tolist() == [
        ["ingest", pd.Timestamp("2024-03-03 13:00"), 1],
        ["train", pd.Timestamp("2024-03-02 02:00"), 2],
        ["ingest", pd.Timestamp("2024-03-02 01:00"), 2],
    ]


def test_pipeline_incidents_are_cut_at_the_window_start(db):
    frame = db.run("overview_incidents_pipelines", start=datetime(2024, 3, 2, 12), end=DAY4)
    assert_rows(
        frame,
        [
            {
                "pipeline": "ingest",
                "started": datetime(2024, 3, 2, 13),
                "ended": datetime(2024, 3, 2, 13, 5),
                "failed_runs": 1,
                "error": "timeout",
            }
        ],
    )


def test_serving_incidents_need_at_least_twenty_predictions_in_an_hour(db):
    # The fixture's hours hold one or two predictions each, even r07's 1500 ms 503.
    assert db.run("overview_incidents_serving", **ALL, **NO_FILTER, **THRESHOLDS).empty


# -- serving incidents on their own data: hours of 20 predictions on 2024-03-05 ----------------------

INCIDENT_DAY = datetime(2024, 3, 5)
FAST, SLOW = [100.0] * 20, [100.0] * 18 + [5000.0] * 2
OK = [200] * 20
HOURS = {
    10: (FAST, OK),
    11: (SLOW, OK),  # slow
    12: (SLOW, [200] * 17 + [500] * 3),  # slow and 15% errors: one episode with 11:00
    13: (FAST, OK),
    14: (FAST, [200] * 19 + [503]),  # exactly 5% errors: not above the threshold
    15: (FAST, [200] * 18 + [500] * 2),  # 10% errors
    16: ([5000.0] * 19, [500] * 19),  # terrible but only 19 predictions: ignored, and it splits 15 from 17
    17: (FAST, [500] * 20),
}


def hour_of_predictions(hour: int, latencies: list[float], statuses: list[int]) -> pd.DataFrame:
    start = INCIDENT_DAY + timedelta(hours=hour)
    n = len(latencies)
    return pd.DataFrame(
        {
            "ts": [start + timedelta(minutes=2 * i) for i in range(n)],
            "request_id": [f"h{hour}-{i}" for i in range(n)],
            "symbol": "AAPL",
            "model_version": "v1",
            "sentiment_score": 0.0,
            "confidence": 0.5,
            "label": "neutral",
            "latency_ms": latencies,
            "status": statuses,
            "cache_hit": True,
            "headline_words": 10,
        }
    )


@pytest.fixture
def incident_db(tmp_path) -> Database:
    data_dir = tmp_path / "incidents"
    frame = pd.concat([hour_of_predictions(h, *values) for h, values in HOURS.items()], ignore_index=True)
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    write_partitioned(data_dir, "predictions", frame)
    return Database(Config(data_dir=data_dir, cache_type="null", cache_dir=tmp_path / "cache", workers=1))


def test_serving_incidents_join_consecutive_bad_hours_into_episodes(incident_db):
    frame = incident_db.run(
        "overview_incidents_serving",
        start=INCIDENT_DAY,
        end=INCIDENT_DAY + timedelta(days=1),
        **NO_FILTER,
        **THRESHOLDS,
    )
    at = INCIDENT_DAY.replace
    assert_rows(
        frame,
        [
            {
                "started": at(hour=17),
                "ended": at(hour=18),
                "hours": 1,
                "peak_p95_ms": 100.0,
                "peak_error_rate": 1.0,
                "predictions": 20,
                "slow": False,
                "failing": True,
            },
            {
                "started": at(hour=15),
                "ended": at(hour=16),
                "hours": 1,
                "peak_p95_ms": 100.0,
                "peak_error_rate": 0.10,
                "predictions": 20,
                "slow": False,
                "failing": True,
            },
            {
                "started": at(hour=11),
                "ended": at(hour=13),
                "hours": 2,
                "peak_p95_ms": pct(SLOW, 0.95),
                "peak_error_rate": 0.15,
                "predictions": 40,
                "slow": True,
                "failing": True,
            },
        ],
    )


def test_serving_incidents_follow_the_thresholds(incident_db):
    frame = incident_db.run(
        "overview_incidents_serving",
        start=INCIDENT_DAY,
        end=INCIDENT_DAY + timedelta(days=1),
        **NO_FILTER,
        latency_ms_threshold=10_000.0,
        error_rate_threshold=0.12,
    )
    # Only 12:00 (15% errors) and 17:00 (100%) are above 12%; nothing is slower than 10 s.
    assert frame["started"].tolist() == [INCIDENT_DAY.replace(hour=17), INCIDENT_DAY.replace(hour=12)]
    assert frame["slow"].tolist() == [False, False]
    assert frame["peak_p95_ms"].tolist() == [100.0, pct(SLOW, 0.95)]
