"""queries/drift_values*.sql and meta_columns.sql: per-column value counts, and the schema names are checked on."""

from __future__ import annotations

import pandas as pd

from tests.fixtures import ALL, DAY2, DAY3, assert_rows, predictions, write_single

NO_FILTER = {"symbol": [], "model_version": None}


def test_value_counts_of_a_window_column_in_value_order(db):
    frame = db.run("drift_values", start=DAY2, end=DAY3, **NO_FILTER, column="^headline_words$")
    # r05 .. r08: 11, 20, 7, 14 words.
    assert_rows(frame, [{"value": v, "n": 1} for v in (7, 11, 14, 20)])


def test_value_counts_of_a_text_column_with_filters_and_nulls_last(db):
    frame = db.run("drift_values", **ALL, symbol=["AAPL"], model_version=None, column="^cache_hit$")
    # AAPL: r01 True, r03 NULL, r05 True, r08 False, r10 True.
    assert_rows(frame, [{"value": False, "n": 1}, {"value": True, "n": 3}, {"value": None, "n": 1}])


def test_value_counts_of_the_reference(db, data_dir):
    write_single(
        data_dir, "reference", pd.DataFrame({"headline_words": [3, 3, None, 9], "label": "x", "sentiment_score": 0.0})
    )
    frame = db.run("drift_values_reference", column="^headline_words$")
    assert_rows(frame, [{"value": 3.0, "n": 2}, {"value": 9.0, "n": 1}, {"value": None, "n": 1}])


def test_columns_are_read_from_the_view_with_their_types(db):
    columns = db.columns("predictions")
    assert list(columns)[: len(predictions().columns)] == list(predictions().columns)
    assert (columns["headline_words"], columns["ts"], columns["dt"]) == ("INTEGER", "TIMESTAMP", "DATE")
    assert columns["source"] == "VARCHAR"  # an optional contract column absent from the files: NULL of its type


def test_numeric_bin_counts_per_bucket_are_right_closed(db):
    frame = db.run(
        "drift_bins_by_bucket", **ALL, **NO_FILTER, bucket=86400, column="^headline_words$", edges=[9.0, 12.0]
    )
    # Day 1: 12 8 15 9; day 2: 11 20 7 14; day 3: 10 13 6. Bins (-inf, 9], (9, 12], (12, +inf).
    assert frame["bins"].map(list).tolist() == [[2, 1, 1], [1, 1, 2], [1, 1, 1]]
    assert frame["n"].tolist() == [4, 4, 3]
    assert frame["bucket"].tolist() == [pd.Timestamp(2024, 3, d) for d in (1, 2, 3)]


def test_text_value_counts_per_bucket(db):
    frame = db.run("drift_values_by_bucket", **ALL, **NO_FILTER, bucket=86400, column="^label$")
    day1 = frame[frame["bucket"] == pd.Timestamp(2024, 3, 1)]
    assert day1[["value", "n"]].values.tolist() == [["negative", 1], ["neutral", 1], ["positive", 2]]
    assert frame["n"].sum() == 11
