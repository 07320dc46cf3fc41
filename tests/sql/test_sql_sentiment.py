"""queries/sentiment_*.sql: confusion counts per day, outcome partition, version, labels and confidence decile."""

from __future__ import annotations

import pandas as pd

from tests.fixtures import ALL, outcomes, predictions

NO_FILTER = {"symbol": [], "model_version": None}


def test_confusion_counts_equal_a_join_of_the_fixture_rows(db):
    frame = db.run("sentiment_confusion", **ALL, **NO_FILTER)
    p, o = predictions(), outcomes()
    joined = p.merge(o.rename(columns={"ts": "outcome_ts"}), on="request_id")
    joined = joined[joined["outcome_ts"].dt.normalize() >= joined["ts"].dt.normalize()]
    joined["confidence_bin"] = (joined["confidence"] * 10).astype(int).clip(upper=9)
    want = joined.groupby(["model_version", "label", "true_label", "confidence_bin"]).agg(
        n=("request_id", "size"), confidence_sum=("confidence", "sum")
    )
    got = frame.groupby(["model_version", "label", "true_label", "confidence_bin"])[["n", "confidence_sum"]].sum()
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False, check_index_type=False)
    assert frame["n"].sum() == 7  # as overview_accuracy's with_outcome
    assert list(frame.columns) == [
        "day", "later_day", "model_version", "label", "true_label", "confidence_bin", "n", "confidence_sum"
    ]  # fmt: skip


def test_a_confidence_of_one_falls_in_the_top_decile(db, data_dir):
    from tests.fixtures import write_partitioned

    row = predictions().iloc[[0]].assign(request_id="r99", confidence=1.0)
    write_partitioned(data_dir, "predictions", pd.concat([predictions(), row]))
    outcome = outcomes().iloc[[0]].assign(request_id="r99")
    write_partitioned(data_dir, "outcomes", pd.concat([outcomes(), outcome]))
    frame = db.run("sentiment_confusion", **ALL, **NO_FILTER)
    assert frame["confidence_bin"].max() == 9 and frame["confidence_bin"].min() >= 0
