"""queries/drift_*.sql and meta_columns.sql: value counts per column and bucket, and the schema they are checked on."""

from __future__ import annotations

import pandas as pd

from tests.fixtures import ALL, DAY2, DAY3, predictions, write_single

NO_FILTER = {"symbol": [], "model_version": None}


def test_histograms_count_each_columns_values_and_nulls_in_one_scan(db):
    frame = db.run("drift_histograms", start=DAY2, end=DAY3, **NO_FILTER, columns="^(headline_words|cache_hit)$")
    # r05 .. r08: 11, 20, 7, 14 words; cache_hit True, True, False, False.
    assert list(frame.columns) == ["cache_hit", "headline_words", "cache_hit_1", "headline_words_1", "n"]
    row = frame.iloc[0]
    assert row["headline_words"] == {7: 1, 11: 1, 14: 1, 20: 1}
    assert row["cache_hit"] == {False: 2, True: 2}
    assert row.iloc[2:].tolist() == [0, 0, 4]


def test_histograms_leave_nulls_out_and_count_them(db):
    frame = db.run("drift_histograms", **ALL, symbol=["AAPL"], model_version=None, columns="^cache_hit$")
    # AAPL: r01 True, r03 NULL, r05 True, r08 False, r10 True.
    assert frame.iloc[0].tolist() == [{False: 1, True: 3}, 1, 5]


def test_histograms_of_an_empty_window_are_null(db):
    frame = db.run("drift_histograms", start=DAY3, end=DAY3.replace(hour=1), **NO_FILTER, columns="^headline_words$")
    assert frame.iloc[0].tolist()[1:] == [0, 0] and not isinstance(frame.iloc[0, 0], dict)


def test_histograms_of_the_reference(db, data_dir):
    write_single(
        data_dir, "reference", pd.DataFrame({"headline_words": [3, 3, None, 9], "label": "x", "sentiment_score": 0.0})
    )
    frame = db.run("drift_histograms_reference", columns="^headline_words$")
    assert frame.iloc[0].tolist() == [{3.0: 2, 9.0: 1}, 1, 4]


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
