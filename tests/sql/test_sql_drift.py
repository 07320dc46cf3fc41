"""queries/drift_*.sql and meta_columns.sql: value counts per column and bucket, and the schema they are checked on."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.fixtures import ALL, DAY2, DAY3, predictions, write_single

NO_FILTER = {"symbol": [], "model_version": None}


def _by_column(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """Each column's grouping set as {value: count}, with the NULL count under None."""
    out = {}
    for i, name in enumerate(columns):
        rows = frame[frame["set_id"] == ((1 << len(columns)) - 1) ^ (1 << (len(columns) - 1 - i))]
        out[name] = {None if pd.isna(v) else v: n for v, n in zip(rows[name], rows["n"], strict=True)}
    return out


def test_histograms_count_each_columns_values_and_nulls_in_one_scan(db):
    columns = ["headline_words", "cache_hit"]
    frame = db.run("drift_histograms", start=DAY2, end=DAY3, **NO_FILTER, columns=columns)
    # r05 .. r08: 11, 20, 7, 14 words; cache_hit True, True, False, False.
    assert list(frame.columns) == ["set_id", "headline_words", "cache_hit", "n"]
    assert _by_column(frame, columns) == {
        "headline_words": {7: 1, 11: 1, 14: 1, 20: 1},
        "cache_hit": {False: 2, True: 2},
    }


def test_histograms_count_nulls_apart(db):
    frame = db.run("drift_histograms", **ALL, symbol=["AAPL"], model_version=None, columns=["cache_hit"])
    # AAPL: r01 True, r03 NULL, r05 True, r08 False, r10 True.
    assert _by_column(frame, ["cache_hit"]) == {"cache_hit": {False: 1, True: 3, None: 1}}


def test_histograms_of_an_empty_window_have_no_rows(db):
    frame = db.run("drift_histograms", start=DAY3, end=DAY3.replace(hour=1), **NO_FILTER, columns=["headline_words"])
    assert frame.empty and list(frame.columns) == ["set_id", "headline_words", "n"]


def test_histograms_of_the_reference(db, data_dir):
    write_single(
        data_dir, "reference", pd.DataFrame({"headline_words": [3, 3, None, 9], "label": "x", "sentiment_score": 0.0})
    )
    frame = db.run("drift_histograms_reference", columns=["headline_words", "label"])
    assert _by_column(frame, ["headline_words", "label"]) == {
        "headline_words": {3.0: 2, 9.0: 1, None: 1},
        "label": {"x": 4},
    }


@pytest.mark.parametrize(
    "columns, message",
    [
        (["headline_words", "no_such_column"], r"columns predictions does not have: \['no_such_column'\]"),
        (['headline_words" FROM secrets --'], "columns predictions does not have"),
        ([], "must be a non-empty list of column names"),
        ("headline_words", "must be a non-empty list of column names"),
    ],
)
def test_identifiers_that_are_not_real_columns_are_refused_before_any_sql_is_built(db, columns, message):
    with pytest.raises(ValueError, match=message):
        db.run("drift_histograms", **ALL, **NO_FILTER, columns=columns)


def test_a_column_name_that_needs_quoting_is_quoted(db, data_dir):
    write_single(data_dir, "reference", pd.DataFrame({'odd "name"': [1, 1, 2], "label": "x", "sentiment_score": 0.0}))
    frame = db.run("drift_histograms_reference", columns=['odd "name"'])
    assert _by_column(frame, ['odd "name"']) == {'odd "name"': {1: 2, 2: 1}}


def test_columns_are_read_from_the_view_with_their_types(db):
    columns = db.columns("predictions")
    assert list(columns)[: len(predictions().columns)] == list(predictions().columns)
    assert (columns["headline_words"], columns["ts"], columns["dt"]) == ("INTEGER", "TIMESTAMP", "DATE")
    assert columns["source"] == "VARCHAR"  # an optional contract column absent from the files: NULL of its type


def test_numeric_bin_counts_per_bucket_are_right_closed_with_each_columns_own_edges(db):
    frame = db.run(
        "drift_bins_by_bucket",
        **ALL,
        **NO_FILTER,
        bucket=86400,
        columns=["headline_words", "sentiment_score"],
        edges=[[9.0, 12.0], [0.0]],
    )
    # Words, day 1: 12 8 15 9; day 2: 11 20 7 14; day 3: 10 13 6. Bins (-inf, 9], (9, 12], (12, +inf).
    assert frame["headline_words"].map(list).tolist() == [[2, 1, 1], [1, 1, 2], [1, 1, 1]]
    assert frame["sentiment_score"].map(sum).tolist() == [4, 4, 3]  # two bins: (-inf, 0], (0, +inf)
    assert frame["sentiment_score"].map(len).tolist() == [2, 2, 2]
    assert frame["bucket"].tolist() == [pd.Timestamp(2024, 3, d) for d in (1, 2, 3)]


def test_text_value_counts_per_bucket_for_several_columns_in_one_scan(db):
    frame = db.run("drift_values_by_bucket", **ALL, **NO_FILTER, bucket=86400, columns=["label", "cache_hit"])
    labels = frame[frame["set_id"] == 0b01]
    day1 = labels[labels["bucket"] == pd.Timestamp(2024, 3, 1)]
    assert day1[["label", "n"]].sort_values("label").values.tolist() == [
        ["negative", 1],
        ["neutral", 1],
        ["positive", 2],
    ]
    assert labels["n"].sum() == 11
    hits = frame[frame["set_id"] == 0b10]
    assert hits["n"].sum() == 11 and hits["cache_hit"].isna().sum() == 1  # the one NULL cache_hit, counted apart
