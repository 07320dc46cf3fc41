"""queries/overview_*.sql: KPIs against the previous window, accuracy from outcomes, label mix."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from tests.fixtures import ALL, DAY1, DAY2, DAY3, DAY4, assert_rows

NO_FILTER = {"symbol": [], "model_version": None}


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
                "requests": 3,
                "server_errors": 1,
                "p95_latency_ms": pct([95, 105, 400], 0.95),
                "cache_hits": 3,
                "cache_lookups": 3,
            },
            # r05 .. r08: one 5xx (r07 503; r05's 404 is a client error); two hits of four.
            {
                "period": "previous",
                "predictions": 4,
                "requests": 4,
                "server_errors": 1,
                "p95_latency_ms": pct([90, 250, 1500, 110], 0.95),
                "cache_hits": 2,
                "cache_lookups": 4,
            },
        ],
    )


def test_kpis_ignore_a_null_cache_hit_and_omit_an_empty_previous_window(db):
    frame = db.run("overview_kpis", start=DAY1, end=DAY2, **NO_FILTER)
    # r01 .. r04; r03's cache_hit is NULL, so the rate is 2 hits of 3 known; nothing before DAY1.
    assert frame["period"].tolist() == ["current"]
    assert frame.loc[0, "predictions"] == 4
    assert frame.loc[0, ["cache_hits", "cache_lookups"]].tolist() == [2, 3]
    assert frame.loc[0, ["server_errors", "requests"]].tolist() == [1, 4]


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
