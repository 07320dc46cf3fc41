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
